"""Clients and their notification settings: each client's rules and the global defaults.
Parameterised always.

Owns clients, notification_rules and global_notification_settings. Reads tracked_asins
(a client's tracked count). A changed or deleted rule releases the alerts it held through
outbox_store.release_held.
"""

import difflib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from bestseller_cli import outbox_store
from bestseller_cli.errors import ConfigError
from bestseller_cli.models import parse_client_name
from bestseller_cli.notify_config import (
    GLOBAL_KEYS,
    GlobalSettings,
    NotificationRule,
    release_time,
    updated_rule,
)
from bestseller_cli.routing import Rule


def client_id(conn: psycopg.Connection, name: str | None) -> int | None:
    """The id of the named client (None for no client); ConfigError when it does not exist."""
    if name is None:
        return None
    row = conn.execute("SELECT id FROM clients WHERE name = %s", (name,)).fetchone()
    if row is None:
        names = [row[0] for row in conn.execute("SELECT name FROM clients")]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"no client named {name!r}{hint}: add it with `bestseller clients add {name}`"
        )
    return row[0]


@dataclass(frozen=True)
class ClientRow:
    name: str
    created_at: datetime
    tracked_asins: int
    rules: list[NotificationRule] = field(default_factory=list)


RULE_COLUMNS = (
    "slack_channel_id, notify_gained, notify_lost, max_main_rank, ignored_category_ids,"
    " delivery_mode, daily_hour, quiet_start, quiet_end, timezone, renotify_window_minutes,"
    " active"
)


def _rule(client: str, row: dict[str, Any]) -> NotificationRule:
    return NotificationRule(
        client=client,
        channel=row["slack_channel_id"],
        notify_gained=row["notify_gained"],
        notify_lost=row["notify_lost"],
        max_main_rank=row["max_main_rank"],
        ignored_category_ids=tuple(sorted(row["ignored_category_ids"])),
        delivery_mode=row["delivery_mode"],
        daily_hour=row["daily_hour"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        timezone=row["timezone"],
        renotify_window_minutes=row["renotify_window_minutes"],
        active=row["active"],
        created_at=row["created_at"],
    )


def add_client(
    conn: psycopg.Connection,
    *,
    name: str,
    channel: str | None = None,
    rule_changes: dict[str, Any] | None = None,
) -> tuple[bool, tuple[NotificationRule, bool] | None]:
    """Create a client (False: it already exists) and, with `rule_changes`, its rule for the
    channel (as `update_rule` returns it); one transaction, so a rule that fails validation
    leaves no client behind."""
    try:
        clean = parse_client_name(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO clients (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id",
            (clean,),
        ).fetchone()
        rule = None
        if rule_changes is not None:
            target = rule_channel(conn, client=clean, channel=channel)
            rule = update_rule(conn, client=clean, channel=target, changes=rule_changes)
    return row is not None, rule


def remove_client(conn: psycopg.Connection, *, name: str) -> None:
    """Delete a client with its rules and tracked entries; observed history is kept."""
    with conn.transaction():
        owner = client_id(conn, name)
        conn.execute("DELETE FROM clients WHERE id = %s", (owner,))


def list_clients(conn: psycopg.Connection, *, name: str | None = None) -> list[ClientRow]:
    """Clients (all, or the one named) with their tracked ASIN count and rules."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if name is not None:
            client_id(conn, name)
        cur.execute(
            "SELECT c.id, c.name, c.created_at,"
            " (SELECT count(*) FROM tracked_asins t WHERE t.client_id = c.id AND t.active)"
            "   AS tracked"
            " FROM clients c WHERE (%(name)s::text IS NULL OR c.name = %(name)s) ORDER BY c.name",
            {"name": name},
        )
        clients = cur.fetchall()
        cur.execute(
            f"SELECT client_id, created_at, {RULE_COLUMNS} FROM notification_rules"
            " WHERE client_id = ANY(%s) ORDER BY slack_channel_id NULLS FIRST",
            ([client["id"] for client in clients],),
        )
        rules = cur.fetchall()
    return [
        ClientRow(
            name=client["name"],
            created_at=client["created_at"],
            tracked_asins=client["tracked"],
            rules=[_rule(client["name"], row) for row in rules if row["client_id"] == client["id"]],
        )
        for client in clients
    ]


def get_rule(conn: psycopg.Connection, *, client: str, channel: str | None) -> NotificationRule:
    """The client's rule for that channel, or a fresh default rule when it has none."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        owner = client_id(conn, client)
        cur.execute(
            f"SELECT created_at, {RULE_COLUMNS} FROM notification_rules"
            " WHERE client_id = %s AND slack_channel_id IS NOT DISTINCT FROM %s FOR UPDATE",
            (owner, channel),
        )
        row = cur.fetchone()
    return _rule(client, row) if row else NotificationRule(client=client, channel=channel)


def rule_channel(conn: psycopg.Connection, *, client: str, channel: str | None) -> str | None:
    """The channel of the rule a command means: the one named; else the client's only rule's
    (the default channel when it has none). With several rules, `--channel` must say which."""
    if channel is not None:
        return channel
    rules = get_rules(conn, client=client)
    if len(rules) > 1:
        named = ", ".join(rule.channel or "(default channel)" for rule in rules)
        raise ConfigError(f"{client} has {len(rules)} rules ({named}): say which with --channel")
    return rules[0].channel if rules else None


def get_rules(conn: psycopg.Connection, *, client: str) -> list[NotificationRule]:
    [row] = list_clients(conn, name=client)
    return row.rules


def update_rule(
    conn: psycopg.Connection, *, client: str, channel: str | None, changes: dict[str, Any]
) -> tuple[NotificationRule, bool]:
    """Create or change the client's rule for a channel in one transaction.

    `changes` maps rule fields to new values (None keeps the current one); returns the saved
    rule and whether it was created. Alerts the rule held (quiet hours, a digest) go out when
    the changed rule lets them: lifting quiet hours releases them at the next run."""
    with conn.transaction():
        rule = updated_rule(get_rule(conn, client=client, channel=channel), **changes)
        created = save_rule(conn, rule)
        release = release_time(rule, now=datetime.now(UTC))
        outbox_store.release_held(
            conn, client_id=client_id(conn, client), channel=rule.channel, at=release
        )
    return rule, created


def save_rule(conn: psycopg.Connection, rule: NotificationRule) -> bool:
    """Create or update the client's rule for the rule's channel. True when created."""
    with conn.transaction():
        return _save_rule(conn, rule)


def _save_rule(conn: psycopg.Connection, rule: NotificationRule) -> bool:
    values = {
        "client_id": client_id(conn, rule.client),
        "slack_channel_id": rule.channel,
        "notify_gained": rule.notify_gained,
        "notify_lost": rule.notify_lost,
        "max_main_rank": rule.max_main_rank,
        "ignored_category_ids": list(rule.ignored_category_ids),
        "delivery_mode": rule.delivery_mode,
        "daily_hour": rule.daily_hour,
        "quiet_start": rule.quiet_start,
        "quiet_end": rule.quiet_end,
        "timezone": rule.timezone,
        "renotify_window_minutes": rule.renotify_window_minutes,
        "active": rule.active,
    }
    columns = sql.SQL(", ").join(map(sql.Identifier, values))
    placeholders = sql.SQL(", ").join(map(sql.Placeholder, values))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
        for name in values
        if name not in {"client_id", "slack_channel_id"}
    )
    query = sql.SQL(
        "INSERT INTO notification_rules ({columns}) VALUES ({placeholders})"
        " ON CONFLICT (client_id, slack_channel_id) DO UPDATE SET {updates}"
        " RETURNING (xmax = 0) AS created"
    ).format(columns=columns, placeholders=placeholders, updates=updates)
    row = conn.execute(query, values).fetchone()
    return bool(row and row[0])


def delete_rule(conn: psycopg.Connection, *, client: str, channel: str | None) -> bool:
    """Delete the rule; the alerts it held go out at the next run."""
    with conn.transaction():
        owner = client_id(conn, client)
        row = conn.execute(
            "DELETE FROM notification_rules"
            " WHERE client_id = %s AND slack_channel_id IS NOT DISTINCT FROM %s RETURNING id",
            (owner, channel),
        ).fetchone()
        outbox_store.release_held(conn, client_id=owner, channel=channel, at=datetime.now(UTC))
    return row is not None


def get_global_settings(conn: psycopg.Connection) -> GlobalSettings:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT slack_channel_id, notify_gained, notify_lost, renotify_window_minutes,"
            " updated_at FROM global_notification_settings"
        )
        row = cur.fetchone()
    return GlobalSettings(**row) if row else GlobalSettings()


def set_global_setting(conn: psycopg.Connection, *, key: str, value: object) -> GlobalSettings:
    """Store one validated default (see notify_config.parse_global_value)."""
    if key not in GLOBAL_KEYS:
        raise ConfigError(f"unknown setting {key!r}: use one of {', '.join(GLOBAL_KEYS)}")
    query = sql.SQL(
        "INSERT INTO global_notification_settings (id, {key}) VALUES (true, %s)"
        " ON CONFLICT (id) DO UPDATE SET {key} = EXCLUDED.{key}, updated_at = now()"
    ).format(key=sql.Identifier(key))
    with conn.transaction():
        conn.execute(query, (value,))
    return get_global_settings(conn)


def report_channel(conn: psycopg.Connection, *, client: str | None) -> str | None:
    """Where a report goes by default: the client's first active rule with a channel, then
    the global default channel (None: fall back to SLACK_CHANNEL_ID)."""
    if client is not None:
        for client_row in list_clients(conn, name=client):
            for rule in client_row.rules:
                if rule.active and rule.channel:
                    return rule.channel
    return get_global_settings(conn).slack_channel_id


def load_rules(conn: psycopg.Connection) -> tuple[dict[int, list[Rule]], Rule]:
    """Every active client rule, and the global defaults."""
    rules: dict[int, list[Rule]] = {}
    for row in conn.execute(
        "SELECT client_id, slack_channel_id, notify_gained, notify_lost, max_main_rank,"
        " ignored_category_ids, delivery_mode, daily_hour, quiet_start, quiet_end, timezone,"
        " renotify_window_minutes FROM notification_rules WHERE active ORDER BY id"
    ):
        rule = Rule(*row[:5], frozenset(row[5]), *row[6:])
        rules.setdefault(row[0], []).append(rule)
    row = conn.execute(
        "SELECT slack_channel_id, notify_gained, notify_lost, renotify_window_minutes"
        " FROM global_notification_settings"
    ).fetchone()
    channel, gained, lost, window = row or (None, True, True, 120)
    defaults = Rule(
        client_id=None,
        channel=channel,
        notify_gained=gained,
        notify_lost=lost,
        renotify_window_minutes=window,
    )
    return rules, defaults


def configured_channels(conn: psycopg.Connection) -> list[str]:
    """Every Slack channel a rule or the global settings name."""
    rows = conn.execute(
        "SELECT slack_channel_id FROM notification_rules WHERE active"
        " AND slack_channel_id IS NOT NULL"
        " UNION SELECT slack_channel_id FROM global_notification_settings"
        " WHERE slack_channel_id IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]
