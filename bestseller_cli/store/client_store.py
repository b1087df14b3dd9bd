"""Clients and their notification settings: each client's rules and the global defaults.
Parameterised always.

Owns clients, notification_rules and global_notification_settings. Reads tracked_asins
(a client's tracked count). A changed or deleted rule releases the alerts it held through
outbox_store.release_held.
"""

import difflib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

from bestseller_cli.errors import ConfigError
from bestseller_cli.models import parse_client_name
from bestseller_cli.redact import register_secret
from bestseller_cli.rules.notify_config import GLOBAL_KEYS, GlobalSettings, updated_rule
from bestseller_cli.rules.routing import Rule, deliver_after, webhook_address
from bestseller_cli.store import outbox_store


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
    rules: list[Rule] = field(default_factory=list)


# notification_rules' columns by Rule field, from the model: the one list of them.
RULE_COLUMNS = {f.name: f.metadata.get("column", f.name) for f in fields(Rule)}
WRITTEN_RULE_FIELDS = [f.name for f in fields(Rule) if not f.metadata.get("generated")]
SELECT_RULE = sql.SQL(", ").join(
    sql.SQL("{} AS {}").format(sql.Identifier(column), sql.Identifier(name))
    for name, column in RULE_COLUMNS.items()
)
CLIENTS_RULES_SQL = sql.SQL(
    "SELECT {} FROM notification_rules WHERE client_id = ANY(%s)"
    " ORDER BY slack_channel_id NULLS FIRST"
).format(SELECT_RULE)
RULE_SQL = sql.SQL(
    "SELECT {} FROM notification_rules"
    " WHERE client_id = %s AND slack_channel_id IS NOT DISTINCT FROM %s FOR UPDATE"
).format(SELECT_RULE)
ACTIVE_RULES_SQL = sql.SQL("SELECT {} FROM notification_rules WHERE active ORDER BY id").format(
    SELECT_RULE
)


def add_client(
    conn: psycopg.Connection,
    *,
    name: str,
    channel: str | None = None,
    rule_changes: dict[str, Any] | None = None,
) -> tuple[bool, tuple[Rule, bool] | None]:
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
    with conn.transaction():
        if name is not None:
            client_id(conn, name)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT c.id, c.name, c.created_at,"
                " (SELECT count(*) FROM tracked_asins t WHERE t.client_id = c.id AND t.active)"
                "   AS tracked FROM clients c"
                " WHERE (%(name)s::text IS NULL OR c.name = %(name)s) ORDER BY c.name",
                {"name": name},
            )
            clients = cur.fetchall()
        with conn.cursor(row_factory=class_row(Rule)) as rule_cur:
            ids = [client["id"] for client in clients]
            rules = rule_cur.execute(CLIENTS_RULES_SQL, (ids,)).fetchall()
    return [
        ClientRow(
            name=client["name"],
            created_at=client["created_at"],
            tracked_asins=client["tracked"],
            rules=[rule for rule in rules if rule.client_id == client["id"]],
        )
        for client in clients
    ]


def get_rule(conn: psycopg.Connection, *, client: str, channel: str | None) -> Rule:
    """The client's rule for that channel, or a fresh default rule when it has none."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Rule)) as cur:
        owner = client_id(conn, client)
        rule = cur.execute(RULE_SQL, (owner, channel)).fetchone()
    return rule or Rule(client_id=owner, channel=channel)


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


def get_rules(conn: psycopg.Connection, *, client: str) -> list[Rule]:
    [row] = list_clients(conn, name=client)
    return row.rules


def update_rule(
    conn: psycopg.Connection, *, client: str, channel: str | None, changes: dict[str, Any]
) -> tuple[Rule, bool]:
    """Create or change the client's rule for a channel in one transaction.

    `changes` maps rule fields to new values (None keeps the current one); returns the saved
    rule and whether it was created. Alerts the rule held (quiet hours, a digest) go out when
    the changed rule lets them: lifting quiet hours releases them at the next run."""
    with conn.transaction():
        rule = updated_rule(get_rule(conn, client=client, channel=channel), **changes)
        created = save_rule(conn, rule)
        release = deliver_after(rule, datetime.now(UTC))
        outbox_store.release_held(conn, client_id=rule.client_id, channel=rule.channel, at=release)
    return rule, created


def save_rule(conn: psycopg.Connection, rule: Rule) -> bool:
    """Create or update the client's rule for the rule's channel. True when created."""
    with conn.transaction():
        return _save_rule(conn, rule)


def _save_rule(conn: psycopg.Connection, rule: Rule) -> bool:
    values = {RULE_COLUMNS[name]: _db_value(getattr(rule, name)) for name in WRITTEN_RULE_FIELDS}
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


def _db_value(value: object) -> object:
    """A tuple is stored as an array (psycopg adapts lists, not tuples)."""
    return list(value) if isinstance(value, tuple) else value


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


GLOBAL_SETTINGS_SQL = sql.SQL(
    "SELECT {columns}, updated_at FROM global_notification_settings"
).format(columns=sql.SQL(", ").join(map(sql.Identifier, GLOBAL_KEYS)))
# The defaults as a Rule: the settings named as the rule's fields.
GLOBAL_RULE_SQL = sql.SQL("SELECT {columns} FROM global_notification_settings").format(
    columns=sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.Identifier(column), sql.Identifier(name))
        for name, column in RULE_COLUMNS.items()
        if column in GLOBAL_KEYS
    )
)


def get_global_settings(conn: psycopg.Connection) -> GlobalSettings:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(GLOBAL_SETTINGS_SQL).fetchone()
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
    with conn.cursor(row_factory=class_row(Rule)) as cur:
        for rule in cur.execute(ACTIVE_RULES_SQL):
            assert rule.client_id is not None  # a client's rule (the column is NOT NULL)
            rules.setdefault(rule.client_id, []).append(rule)
        defaults = cur.execute(GLOBAL_RULE_SQL).fetchone() or Rule()
    return rules, defaults


def webhook_urls(conn: psycopg.Connection) -> dict[str, str]:
    """Every active rule's webhook by its outbox address (`webhook:<rule id>`). The URLs are
    secrets: registered with `redact`, so no log line or error shows them."""
    rows = conn.execute(
        "SELECT id, webhook_url FROM notification_rules WHERE active AND webhook_url IS NOT NULL"
    ).fetchall()
    for _, url in rows:
        register_secret(url)
    return {webhook_address(rule_id): url for rule_id, url in rows}


def configured_channels(conn: psycopg.Connection) -> list[str]:
    """Every Slack channel a rule or the global settings name."""
    rows = conn.execute(
        "SELECT slack_channel_id FROM notification_rules WHERE active"
        " AND slack_channel_id IS NOT NULL"
        " UNION SELECT slack_channel_id FROM global_notification_settings"
        " WHERE slack_channel_id IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [row[0] for row in rows]
