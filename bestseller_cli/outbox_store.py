"""SQL of the notification outbox (notification_log)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from bestseller_cli.models import BadgeChange


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str | None
    client_id: int | None
    change: BadgeChange
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


# A change's columns in the order every outbox query selects them (`c.` = bestseller_changes,
# `names.` = category_names, joined by NAMES_JOIN), as (field, SQL) pairs.
CHANGE_COLUMNS = (
    ("asin", "c.asin"),
    ("marketplace", "c.marketplace"),
    ("category_id", "c.category_id"),
    ("category_name", "COALESCE(c.category_name, names.name)"),
    ("kind", "c.kind"),
    ("rank_before", "c.rank_before"),
    ("rank_after", "c.rank_after"),
    ("main_rank", "c.main_rank"),
    ("title", "c.title"),
    ("detected_at", "c.detected_at"),
    ("keepa_seen_at", "c.keepa_seen_at"),
)
SELECT_CHANGE = ", ".join(sql for _, sql in CHANGE_COLUMNS)
NAMES_JOIN = """LEFT JOIN category_names names
  ON names.marketplace = c.marketplace AND names.category_id = c.category_id"""


def change_from(values: Sequence[object]) -> BadgeChange:
    """A change from the values of SELECT_CHANGE, in order."""
    fields = [name for name, _ in CHANGE_COLUMNS]
    return BadgeChange(**dict(zip(fields, values, strict=True)))


DUE_SQL = f"""
SELECT n.id, n.channel, n.client_id, {SELECT_CHANGE},
       n.delivery_mode, n.renotify_window_minutes,
       n.deliver_after > n.created_at + interval '1 minute'
FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
{NAMES_JOIN}
WHERE n.status = 'pending' AND n.deliver_after <= %s
ORDER BY n.deliver_after, n.id
"""


def due(conn: psycopg.Connection, *, now: datetime) -> list[OutboxItem]:
    items = []
    for row in conn.execute(DUE_SQL, (now,)):
        items.append(
            OutboxItem(
                id=row[0],
                channel=row[1],
                client_id=row[2],
                change=change_from(row[3:14]),
                delivery_mode=row[14],
                renotify_window_minutes=row[15],
                held=row[16],
            )
        )
    conn.commit()
    return items


def unknown_fate(conn: psycopg.Connection) -> list[UnknownFate]:
    rows = conn.execute(
        "SELECT id, channel, claimed_at FROM notification_log WHERE status = 'sending' ORDER BY id"
    ).fetchall()
    conn.commit()
    return [UnknownFate(*row) for row in rows]


def claim(conn: psycopg.Connection, ids: list[int]) -> None:
    """Mark rows as being sent, and commit, before Slack is called (DELIVERY.md step 1)."""
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'sending', claimed_at = clock_timestamp(),"
            " attempts = attempts + 1 WHERE id = ANY(%s)",
            (ids,),
        )


def mark_sent(conn: psycopg.Connection, ids: list[int], *, channel: str, ts: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'sent', sent_at = now(), slack_channel = %s,"
            " slack_ts = %s, error = NULL WHERE id = ANY(%s)",
            (channel, ts, ids),
        )


def mark_printed(conn: psycopg.Connection, ids: list[int]) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'printed', sent_at = now(),"
            " reason = 'SLACK_BOT_TOKEN unset: printed to the terminal' WHERE id = ANY(%s)",
            (ids,),
        )


def mark_failed(conn: psycopg.Connection, ids: list[int], *, error: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'failed', error = %s WHERE id = ANY(%s)",
            (error, ids),
        )


def release(conn: psycopg.Connection, ids: list[int], *, error: str | None) -> None:
    """Back to pending: the next delivery attempt (this run or the next) sends it."""
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'pending', error = COALESCE(%s, error)"
            " WHERE id = ANY(%s)",
            (error, ids),
        )


def count_undelivered(conn: psycopg.Connection, *, now: datetime) -> int:
    """Alerts due by now that are still not delivered (held ones and operations posts are
    not counted)."""
    row = conn.execute(
        "SELECT count(*) FROM notification_log WHERE status IN ('pending', 'sending')"
        " AND deliver_after <= %s AND change_id IS NOT NULL",
        (now,),
    ).fetchone()
    conn.commit()
    return row[0] if row else 0


def mark_suppressed(
    conn: psycopg.Connection,
    ids: list[int],
    *,
    channel: str,
    ts: str,
    reason: str,
    folded_into: int,
) -> None:
    """A delivery decision, kept with its reason: the change went into message `ts` (of
    outbox row `folded_into`), whose old story is no longer to be completed."""
    with conn.transaction():
        conn.execute(
            "WITH folded AS (UPDATE notification_log SET status = 'suppressed', sent_at = now(),"
            " slack_channel = %s, slack_ts = %s, reason = %s WHERE id = ANY(%s))"
            " UPDATE notification_log SET story_update = NULL WHERE id = %s"
            " AND story_update IN ('awaiting', 'updating')",
            (channel, ts, reason, ids, folded_into),
        )
