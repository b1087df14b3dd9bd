"""Operations conditions (the watch list outgrowing the Keepa plan, alerts undelivered, no
pass completed, ...) and the posts that tell them.

Owns ops_conditions; writes the conditions' posts as rows of notification_log (the
outbox, outbox_store's). Reads check_runs, tracked_asins and clients.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row

from bestseller_cli.redact import redact
from bestseller_cli.rules.ops_rules import Condition, LastAttempt
from bestseller_cli.store.outbox_store import UNDELIVERED_STATUSES

# How far back a channel's last delivery attempt is looked for.
ATTEMPT_HORIZON = timedelta(days=7)
# Messages of conditions closed longer ago than this are no longer brought up to date.
REFRESH_HORIZON = timedelta(days=1)


@dataclass(frozen=True)
class StoredFacts:
    """What the database knows after a pass."""

    previous_completed_at: datetime | None
    attempts: int
    undelivered: int
    oldest_undelivered_at: datetime | None
    watched: int
    database_bytes: int


@dataclass(frozen=True)
class OpsCondition:
    id: int
    kind: str
    subject: str
    headline: str
    effect: str
    fix: str
    opened_at: datetime
    last_seen_at: datetime
    closed_at: datetime | None
    passes: int


@dataclass(frozen=True)
class OpsPost:
    """An operations outbox row due for sending, with the condition it announces."""

    id: int
    channel: str
    event: str  # raised | resolved
    condition: OpsCondition


@dataclass(frozen=True)
class PostedCondition:
    """A condition whose 'raised' message is in Slack, and what that message says now."""

    condition: OpsCondition
    channel: str
    ts: str
    shown_text: str | None


COLUMNS = (
    "c.id, c.kind, c.subject, c.headline, c.effect, c.fix, c.opened_at, c.last_seen_at,"
    " c.closed_at, c.passes"
)

FACTS_SQL = f"""
SELECT
  (SELECT max(finished_at) FROM check_runs
   WHERE status = 'completed' AND NOT filtered
     AND id IS DISTINCT FROM %(run)s) AS previous_completed_at,
  COALESCE((SELECT attempts FROM check_runs WHERE id = %(run)s), 1) AS attempts,
  (SELECT count(*) FROM notification_log WHERE change_id IS NOT NULL
     AND status IN {UNDELIVERED_STATUSES} AND deliver_after < %(cutoff)s) AS undelivered,
  (SELECT min(deliver_after) FROM notification_log WHERE change_id IS NOT NULL
     AND status IN {UNDELIVERED_STATUSES} AND deliver_after < %(cutoff)s)
     AS oldest_undelivered_at,
  (SELECT count(*) FROM (SELECT DISTINCT asin, marketplace FROM tracked_asins
                         WHERE active) w) AS watched,
  pg_database_size(current_database()) AS database_bytes
"""

LAST_ATTEMPTS_SQL = """
SELECT DISTINCT ON (1) COALESCE(n.slack_channel, n.channel, %(default)s) AS channel,
       n.status IN ('sent', 'suppressed') AS delivered, n.error, c.name AS client
FROM notification_log n
LEFT JOIN clients c ON c.id = n.client_id
WHERE n.claimed_at IS NOT NULL AND n.created_at > %(since)s
  AND COALESCE(n.slack_channel, n.channel, %(default)s) IS NOT NULL
ORDER BY 1, n.claimed_at DESC, n.id DESC
"""


def stored_facts(
    conn: psycopg.Connection, *, run_id: int | None, undelivered_cutoff: datetime
) -> StoredFacts:
    with conn.cursor(row_factory=class_row(StoredFacts)) as cur:
        facts = cur.execute(FACTS_SQL, {"run": run_id, "cutoff": undelivered_cutoff}).fetchone()
    assert facts is not None  # a SELECT without FROM: always one row
    return facts


def last_attempts(
    conn: psycopg.Connection, *, default_channel: str | None, now: datetime
) -> list[LastAttempt]:
    params = {"default": default_channel, "since": now - ATTEMPT_HORIZON}
    with conn.cursor(row_factory=class_row(LastAttempt)) as cur:
        return cur.execute(LAST_ATTEMPTS_SQL, params).fetchall()


def record_verdict(
    conn: psycopg.Connection,
    *,
    holding: list[Condition],
    judged: set[str],
    now: datetime,
    run_id: int | None,
    ops_channel: str | None,
) -> None:
    """Open, confirm or close conditions, and queue their posts, in one transaction."""
    with conn.transaction():
        open_ids = {
            (kind, subject): condition_id
            for condition_id, kind, subject in conn.execute(
                "SELECT id, kind, subject FROM ops_conditions WHERE closed_at IS NULL FOR UPDATE"
            )
        }
        held = {condition.key for condition in holding}
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ops_conditions AS o (kind, subject, headline, effect, fix, opened_at,"
                " last_seen_at, opened_run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (kind, subject) WHERE closed_at IS NULL DO UPDATE SET"
                " headline = EXCLUDED.headline, effect = EXCLUDED.effect, fix = EXCLUDED.fix,"
                " last_seen_at = EXCLUDED.last_seen_at, passes = o.passes + 1",
                [(*condition_record(c), now, now, run_id) for c in holding],
            )
        cleared = [
            condition_id
            for (kind, subject), condition_id in open_ids.items()
            if kind in judged and (kind, subject) not in held
        ]
        conn.execute("UPDATE ops_conditions SET closed_at = %s WHERE id = ANY(%s)", (now, cleared))
        if ops_channel is None:
            return
        # Raised once per condition (also for ones opened before the channel was set);
        # resolved once, for conditions that were announced.
        conn.execute(
            "INSERT INTO notification_log (ops_condition_id, ops_event, channel)"
            " SELECT id, 'raised', %s FROM ops_conditions WHERE closed_at IS NULL"
            " ON CONFLICT (ops_condition_id, ops_event) DO NOTHING",
            (ops_channel,),
        )
        conn.execute(
            "INSERT INTO notification_log (ops_condition_id, ops_event, channel)"
            " SELECT n.ops_condition_id, 'resolved', n.channel FROM notification_log n"
            " WHERE n.ops_condition_id = ANY(%s) AND n.ops_event = 'raised'"
            " ON CONFLICT (ops_condition_id, ops_event) DO NOTHING",
            (cleared,),
        )


def condition_record(condition: Condition) -> tuple[str, ...]:
    """Its texts are redacted again on the way in, as a last line of defence."""
    texts = (condition.headline, condition.effect, condition.fix)
    return (condition.kind, condition.subject, *map(redact, texts))


def due_posts(conn: psycopg.Connection) -> list[OpsPost]:
    """Operations rows waiting to be posted, oldest first (a raise before its resolve)."""
    rows = conn.execute(
        f"SELECT n.id, n.channel, n.ops_event, {COLUMNS} FROM notification_log n"
        " JOIN ops_conditions c ON c.id = n.ops_condition_id"
        " WHERE n.status = 'pending' AND n.channel IS NOT NULL ORDER BY n.id"
    ).fetchall()
    return [OpsPost(row[0], row[1], row[2], OpsCondition(*row[3:])) for row in rows]


def posted_conditions(conn: psycopg.Connection, *, now: datetime) -> list[PostedCondition]:
    """Conditions open, or closed lately, whose 'raised' message is in Slack."""
    rows = conn.execute(
        f"SELECT n.slack_channel, n.slack_ts, c.shown_text, {COLUMNS}"
        " FROM ops_conditions c JOIN notification_log n"
        "   ON n.ops_condition_id = c.id AND n.ops_event = 'raised'"
        " WHERE n.status = 'sent' AND n.slack_ts IS NOT NULL"
        "   AND (c.closed_at IS NULL OR c.closed_at > %s) ORDER BY c.id",
        (now - REFRESH_HORIZON,),
    ).fetchall()
    return [PostedCondition(OpsCondition(*row[3:]), row[0], row[1], row[2]) for row in rows]


def mark_shown(conn: psycopg.Connection, *, condition_id: int, text: str) -> None:
    conn.execute("UPDATE ops_conditions SET shown_text = %s WHERE id = %s", (text, condition_id))


def conditions(
    conn: psycopg.Connection, *, since: datetime | None = None, until: datetime | None = None
) -> list[OpsCondition]:
    """Conditions open at some time in [since, until); without `since`, the open ones."""
    with conn.cursor(row_factory=class_row(OpsCondition)) as cur:
        if since is None:
            cur.execute(
                f"SELECT {COLUMNS} FROM ops_conditions c WHERE c.closed_at IS NULL"
                " ORDER BY c.opened_at, c.id"
            )
        else:
            cur.execute(
                f"SELECT {COLUMNS} FROM ops_conditions c WHERE c.opened_at < %s"
                " AND (c.closed_at IS NULL OR c.closed_at >= %s) ORDER BY c.opened_at, c.id",
                (until, since),
            )
        return cur.fetchall()
