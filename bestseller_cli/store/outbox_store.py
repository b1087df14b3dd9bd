"""The notification outbox: one row per alert and channel, its delivery status and when it
is due.

Owns notification_log (ops_store writes its operations posts' rows; story_store marks the
story columns). Reads bestseller_changes and category_names (the change an alert tells).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from bestseller_cli.models import Change


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str | None
    client_id: int | None
    change: Change
    delivery_mode: str = "instant"
    renotify_window_minutes: int = 0
    held: bool = False  # waited for a digest or for quiet hours to end

    @property
    def grouped(self) -> bool:
        """Goes out in one digest message per channel rather than on its own."""
        return self.delivery_mode != "instant" or self.held


@dataclass(frozen=True)
class RecentMessage:
    """The last alert message posted for a badge in a channel, and what changed since."""

    ts: str
    kinds: list[str]


@dataclass(frozen=True)
class UnknownFate:
    """A row claimed for sending whose delivery was never confirmed (the process died)."""

    id: int
    channel: str | None
    claimed_at: datetime
    claim_token: str | None  # the dead delivery's: settling the row compares-and-sets it


def new_claim_token() -> str:
    """A delivery's own token: its claims carry it, its later writes compare it."""
    return uuid.uuid4().hex


# Every write after a claim changes a row only while the row still carries the claim's
# token (None: a row no claim holds, waiting). Another delivery that settled or took the row
# in the meantime has changed it: the write then changes nothing.
CLAIMED = "claim_token IS NOT DISTINCT FROM %(token)s"


# The one definition of "undelivered": an alert (not an operations post) due and not
# delivered: waiting for its first try, being sent, or refused by Slack and waiting for
# another. Held alerts (quiet hours, digests) are not due yet.
UNDELIVERED_STATUSES = "('pending', 'sending', 'refused')"
UNDELIVERED = (
    f"n.change_id IS NOT NULL AND n.status IN {UNDELIVERED_STATUSES} AND n.deliver_after <= %(now)s"
)
# What a delivery may take: never tried, or refused before (retried until sent or expired).
DELIVERABLE = ("pending", "refused")

# A change as every query selects it, one column per field of Change, named as the field
# (`c.` = bestseller_changes; `names.` = category_names, joined by NAMES_JOIN): load it with
# Change.model_validate(row) from a dict_row, other columns of the row ignored.
_CHANGE_SQL = {"category_name": "COALESCE(c.category_name, names.name)"}
SELECT_CHANGE = ", ".join(
    f"{_CHANGE_SQL.get(name, f'c.{name}')} AS {name}" for name in Change.model_fields
)
NAMES_JOIN = """LEFT JOIN category_names names
  ON names.marketplace = c.marketplace AND names.category_id = c.category_id"""


DUE_SQL = f"""
SELECT n.id, n.channel, n.client_id, {SELECT_CHANGE},
       n.delivery_mode, n.renotify_window_minutes,
       n.deliver_after > n.created_at + interval '1 minute' AS held
FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
{NAMES_JOIN}
WHERE n.status = ANY(%(deliverable)s) AND n.deliver_after <= %(now)s
ORDER BY n.deliver_after, n.id
"""


def due(conn: psycopg.Connection, *, now: datetime) -> list[OutboxItem]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(DUE_SQL, {"now": now, "deliverable": list(DELIVERABLE)})
        items = [outbox_item(row) for row in cur]
    return items


def outbox_item(row: dict[str, Any]) -> OutboxItem:
    """An outbox row selected with its change (SELECT_CHANGE), by column name."""
    return OutboxItem(
        id=row["id"],
        channel=row["channel"],
        client_id=row["client_id"],
        change=Change.model_validate(row),
        delivery_mode=row["delivery_mode"],
        renotify_window_minutes=row["renotify_window_minutes"],
        held=row["held"],
    )


def unknown_fate(conn: psycopg.Connection) -> list[UnknownFate]:
    with conn.cursor(row_factory=class_row(UnknownFate)) as cur:
        rows = cur.execute(
            "SELECT id, channel, claimed_at, claim_token FROM notification_log"
            " WHERE status = 'sending' ORDER BY id"
        ).fetchall()
    return rows


def claim(conn: psycopg.Connection, ids: list[int], *, token: str) -> list[int]:
    """Mark rows as being sent by the delivery of `token`, and commit, before Slack is
    called (DELIVERY.md step 1).

    Atomic: only rows still deliverable are taken, so two deliveries running at once (no run
    lock, as behind a transaction pooler) never both take a row. Returns the ids taken; send
    only those."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE notification_log SET status = 'sending', claimed_at = clock_timestamp(),"
            " claim_token = %s, attempts = attempts + 1"
            " WHERE id = ANY(%s) AND status = ANY(%s) RETURNING id",
            (token, ids, list(DELIVERABLE)),
        ).fetchall()
    return sorted(row[0] for row in rows)


def mark_sent(
    conn: psycopg.Connection, ids: list[int], *, channel: str, ts: str, token: str | None
) -> list[int]:
    """Sent, by the claim of `token`; returns the ids it still held (those marked)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE notification_log SET status = 'sent', sent_at = now(),"
            " slack_channel = %(channel)s, slack_ts = %(ts)s, error = NULL"
            f" WHERE id = ANY(%(ids)s) AND {CLAIMED} RETURNING id",
            {"channel": channel, "ts": ts, "ids": ids, "token": token},
        ).fetchall()
    return sorted(row[0] for row in rows)


def mark_printed(conn: psycopg.Connection, ids: list[int]) -> list[int]:
    """Take deliverable rows as printed; returns the ids taken (print only those)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE notification_log SET status = 'printed', sent_at = now(),"
            " reason = 'SLACK_BOT_TOKEN unset: printed to the terminal'"
            " WHERE id = ANY(%s) AND status = ANY(%s) RETURNING id",
            (ids, list(DELIVERABLE)),
        ).fetchall()
    return sorted(row[0] for row in rows)


def mark_refused(
    conn: psycopg.Connection, ids: list[int], *, error: str, token: str | None
) -> None:
    """Slack refused them (token, channel, ...): kept for the next delivery to try again."""
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'refused', error = %(error)s,"
            " slack_channel = NULL, slack_ts = NULL, sent_at = NULL, reason = NULL,"
            f" claim_token = NULL WHERE id = ANY(%(ids)s) AND {CLAIMED}",
            {"error": error, "ids": ids, "token": token},
        )


def expire(conn: psycopg.Connection, *, now: datetime, days: float) -> int:
    """Give up on alerts due for longer than `days` and still undelivered, saying why."""
    reason = f"not delivered within {days:g} days (ALERT_EXPIRY_DAYS)"
    with conn.transaction():
        row = conn.execute(
            "WITH gone AS (UPDATE notification_log SET status = 'expired', reason = %(reason)s"
            " WHERE change_id IS NOT NULL AND status = ANY(%(deliverable)s)"
            " AND deliver_after < %(now)s - make_interval(secs => %(seconds)s) RETURNING 1)"
            " SELECT count(*) FROM gone",
            {
                "reason": reason,
                "deliverable": list(DELIVERABLE),
                "now": now,
                "seconds": days * 86400,
            },
        ).fetchone()
    return row[0] if row else 0


def release(
    conn: psycopg.Connection, ids: list[int], *, error: str | None, token: str | None
) -> None:
    """Back to pending: the next delivery attempt (this run or the next) sends it. `token`:
    the claim releasing them (None: rows no claim holds)."""
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'pending', error = COALESCE(%(error)s, error),"
            f" claim_token = NULL WHERE id = ANY(%(ids)s) AND {CLAIMED}",
            {"error": error, "ids": ids, "token": token},
        )


def release_held(
    conn: psycopg.Connection, *, client_id: int | None, channel: str | None, at: datetime
) -> None:
    """Alerts the client's rule held for the channel go out by `at` (no later than planned)."""
    conn.execute(
        "UPDATE notification_log SET deliver_after = %s"
        " WHERE status = 'pending' AND deliver_after > %s AND client_id = %s"
        " AND channel IS NOT DISTINCT FROM %s",
        (at, at, client_id, channel),
    )


def count_undelivered(conn: psycopg.Connection, *, now: datetime) -> int:
    """Alerts due by now that are still not delivered (held ones and operations posts are
    not counted)."""
    row = conn.execute(
        f"SELECT count(*) FROM notification_log n WHERE {UNDELIVERED}", {"now": now}
    ).fetchone()
    return row[0] if row else 0


def mark_suppressed(
    conn: psycopg.Connection,
    ids: list[int],
    *,
    channel: str,
    ts: str,
    reason: str,
    folded_into: int,
    token: str,
) -> None:
    """A delivery decision, kept with its reason: the change went into message `ts` (of
    outbox row `folded_into`), whose old story is no longer to be completed."""
    with conn.transaction():
        conn.execute(
            "WITH folded AS (UPDATE notification_log SET status = 'suppressed', sent_at = now(),"
            " slack_channel = %(channel)s, slack_ts = %(ts)s, reason = %(reason)s, error = NULL"
            f" WHERE id = ANY(%(ids)s) AND {CLAIMED} RETURNING id)"
            " UPDATE notification_log SET story_update = NULL WHERE id = %(folded_into)s"
            " AND story_update IN ('awaiting', 'updating') AND EXISTS (SELECT FROM folded)",
            {
                "channel": channel,
                "ts": ts,
                "reason": reason,
                "ids": ids,
                "token": token,
                "folded_into": folded_into,
            },
        )


@dataclass(frozen=True)
class AlertRow:
    """One outbox row as `bestseller alerts list` shows it."""

    id: int
    status: str
    channel: str | None  # None: the default channel (SLACK_CHANNEL_ID)
    asin: str
    marketplace: str
    kind: str
    category_id: int
    category_name: str | None
    detected_at: datetime
    deliver_after: datetime
    attempts: int
    error: str | None
    reason: str | None


LIST_SQL = """
SELECT n.id, n.status, COALESCE(n.slack_channel, n.channel) AS channel, c.asin, c.marketplace,
       c.kind, c.category_id, c.category_name, c.detected_at, n.deliver_after, n.attempts,
       n.error, n.reason
FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
WHERE NOT %(undelivered_only)s OR ({undelivered})
ORDER BY n.id DESC LIMIT %(limit)s
"""


def list_alerts(
    conn: psycopg.Connection, *, now: datetime, undelivered_only: bool, limit: int
) -> list[AlertRow]:
    """The latest alerts, newest first; or only those still undelivered (UNDELIVERED)."""
    sql = LIST_SQL.format(undelivered=UNDELIVERED)
    params = {"now": now, "undelivered_only": undelivered_only, "limit": limit}
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        rows = cur.execute(sql, params).fetchall()
    return rows
