"""SQL of the notification outbox (notification_log)."""

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import class_row

from bestseller_cli.models import BadgeChange
from bestseller_cli.story import AlertStory, ListedHolder, OtherProduct


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


# The one definition of "undelivered": an alert (not an operations post) due and not
# delivered: waiting for its first try, being sent, or refused by Slack and waiting for
# another. Held alerts (quiet hours, digests) are not due yet.
UNDELIVERED_STATUSES = "('pending', 'sending', 'refused')"
UNDELIVERED = (
    f"n.change_id IS NOT NULL AND n.status IN {UNDELIVERED_STATUSES} AND n.deliver_after <= %(now)s"
)
# What a delivery may take: never tried, or refused before (retried until sent or expired).
DELIVERABLE = ("pending", "refused")

DUE_SQL = """
SELECT n.id, n.channel, n.client_id, c.asin, c.marketplace, c.category_id,
       COALESCE(c.category_name, names.name),
       c.kind, c.rank_before, c.rank_after, c.main_rank, c.title, c.detected_at,
       n.delivery_mode, n.renotify_window_minutes,
       n.deliver_after > n.created_at + interval '1 minute', c.keepa_seen_at
FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
LEFT JOIN category_names names
  ON names.marketplace = c.marketplace AND names.category_id = c.category_id
WHERE n.status = ANY(%(deliverable)s) AND n.deliver_after <= %(now)s
ORDER BY n.deliver_after, n.id
"""


def due(conn: psycopg.Connection, *, now: datetime) -> list[OutboxItem]:
    items = []
    for row in conn.execute(DUE_SQL, {"now": now, "deliverable": list(DELIVERABLE)}):
        change = BadgeChange(
            asin=row[3],
            marketplace=row[4],
            category_id=row[5],
            category_name=row[6],
            kind=row[7],
            rank_before=row[8],
            rank_after=row[9],
            main_rank=row[10],
            title=row[11],
            detected_at=row[12],
            keepa_seen_at=row[16],
        )
        items.append(
            OutboxItem(
                id=row[0],
                channel=row[1],
                client_id=row[2],
                change=change,
                delivery_mode=row[13],
                renotify_window_minutes=row[14],
                held=row[15],
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


def claim(conn: psycopg.Connection, ids: list[int]) -> list[int]:
    """Mark rows as being sent, and commit, before Slack is called (DELIVERY.md step 1).

    Atomic: only rows still deliverable are taken, so two deliveries running at once (no run
    lock, as behind a transaction pooler) never both take a row. Returns the ids taken; send
    only those."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE notification_log SET status = 'sending', claimed_at = clock_timestamp(),"
            " attempts = attempts + 1 WHERE id = ANY(%s) AND status = ANY(%s) RETURNING id",
            (ids, list(DELIVERABLE)),
        ).fetchall()
    return sorted(row[0] for row in rows)


def mark_sent(conn: psycopg.Connection, ids: list[int], *, channel: str, ts: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'sent', sent_at = now(), slack_channel = %s,"
            " slack_ts = %s, error = NULL WHERE id = ANY(%s)",
            (channel, ts, ids),
        )


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


def mark_refused(conn: psycopg.Connection, ids: list[int], *, error: str) -> None:
    """Slack refused them (token, channel, ...): kept for the next delivery to try again."""
    with conn.transaction():
        conn.execute(
            "UPDATE notification_log SET status = 'refused', error = %s, slack_channel = NULL,"
            " slack_ts = NULL, sent_at = NULL, reason = NULL WHERE id = ANY(%s)",
            (error, ids),
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
        f"SELECT count(*) FROM notification_log n WHERE {UNDELIVERED}", {"now": now}
    ).fetchone()
    conn.commit()
    return row[0] if row else 0


def mark_suppressed(
    conn: psycopg.Connection, item_id: int, *, channel: str, ts: str, reason: str
) -> bool:
    """A delivery decision, kept with its reason: the change went into message `ts`. False
    when another delivery took the row first."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE notification_log SET status = 'suppressed', sent_at = now(),"
            " slack_channel = %s, slack_ts = %s, reason = %s, error = NULL"
            " WHERE id = %s AND status = ANY(%s) RETURNING id",
            (channel, ts, reason, item_id, list(DELIVERABLE)),
        ).fetchone()
    return row is not None


RECENT_MESSAGE_SQL = """
SELECT n.slack_ts, c.detected_at
FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
WHERE n.status = 'sent' AND n.slack_channel = %(channel)s AND n.slack_ts IS NOT NULL
  AND c.asin = %(asin)s AND c.marketplace = %(marketplace)s AND c.category_id = %(category)s
  AND n.sent_at >= now() - make_interval(mins => %(window)s)
ORDER BY n.sent_at DESC LIMIT 1
"""


def recent_message(
    conn: psycopg.Connection, change: BadgeChange, *, channel: str, window_minutes: int
) -> RecentMessage | None:
    params = {
        "channel": channel,
        "asin": change.asin,
        "marketplace": change.marketplace,
        "category": change.category_id,
        "window": window_minutes,
    }
    row = conn.execute(RECENT_MESSAGE_SQL, params).fetchone()
    if row is None:
        return None
    kinds = conn.execute(
        "SELECT kind FROM bestseller_changes WHERE asin = %s AND marketplace = %s"
        " AND category_id = %s AND detected_at BETWEEN %s AND %s ORDER BY detected_at, id",
        (change.asin, change.marketplace, change.category_id, row[1], change.detected_at),
    ).fetchall()
    return RecentMessage(ts=row[0], kinds=[kind for (kind,) in kinds])


STORY_SQL = """
SELECT
  (SELECT jsonb_build_object('asin', s.asin, 'title', s.title, 'own', EXISTS (
            SELECT 1 FROM tracked_asins own WHERE own.asin = s.asin
            AND own.marketplace = s.marketplace AND own.active AND own.role = 'own'
            AND own.client_id IS NOT DISTINCT FROM %(client)s))
   FROM asin_current_state s
   WHERE %(kind)s = 'lost' AND s.marketplace = %(marketplace)s AND s.asin <> %(asin)s
     AND s.badge_category_ids @> ARRAY[%(category)s]::bigint[]
     AND EXISTS (SELECT 1 FROM tracked_asins t WHERE t.asin = s.asin
                 AND t.marketplace = s.marketplace AND t.active)
   ORDER BY s.last_checked_at DESC LIMIT 1) AS new_holder,
  (SELECT jsonb_build_object('asin', c.asin, 'title', c.title, 'own', EXISTS (
            SELECT 1 FROM tracked_asins own WHERE own.asin = c.asin
            AND own.marketplace = c.marketplace AND own.active AND own.role = 'own'
            AND own.client_id IS NOT DISTINCT FROM %(client)s))
   FROM bestseller_changes c
   WHERE %(kind)s = 'gained' AND c.kind = 'lost' AND c.marketplace = %(marketplace)s
     AND c.category_id = %(category)s AND c.asin <> %(asin)s
     AND c.detected_at BETWEEN %(at)s - interval '2 hours' AND %(at)s + interval '5 minutes'
   ORDER BY c.detected_at DESC LIMIT 1) AS displaced,
  (SELECT jsonb_build_object('asin', l.holder_asin,
                             'updated_epoch', extract(epoch FROM l.list_updated_at))
   FROM bestseller_changes c
   JOIN keepa_best_seller_lists l ON l.run_id = c.run_id AND l.marketplace = c.marketplace
     AND l.category_id = c.category_id
   WHERE %(kind)s = 'lost' AND c.kind = 'lost' AND c.asin = %(asin)s
     AND c.marketplace = %(marketplace)s AND c.category_id = %(category)s
     AND c.detected_at = %(at)s AND l.holder_asin IS NOT NULL
   LIMIT 1) AS listed_holder,
  ARRAY(SELECT r.rank FROM (
          -- The rank in effect when the 24 hours began, then each change (a point per change).
          (SELECT p.observed_at, p.rank FROM rank_points p
           WHERE p.asin = %(asin)s AND p.marketplace = %(marketplace)s
             AND p.category_id = %(category)s AND p.observed_at <= %(at)s - interval '24 hours'
           ORDER BY p.observed_at DESC LIMIT 1)
          UNION ALL
          SELECT p.observed_at, p.rank FROM rank_points p
          WHERE p.asin = %(asin)s AND p.marketplace = %(marketplace)s
            AND p.category_id = %(category)s
            AND p.observed_at > %(at)s - interval '24 hours' AND p.observed_at <= %(at)s
          UNION ALL
          -- The main category's rank is kept per check.
          SELECT c.observed_at, u.main_rank
          FROM asin_checks c
          CROSS JOIN LATERAL unnest(c.asins, c.main_ranks, c.badge_counts)
              AS u(asin, main_rank, badges)
          WHERE %(category)s = (SELECT s.main_category_id FROM asin_current_state s
                                WHERE s.asin = %(asin)s AND s.marketplace = %(marketplace)s)
            AND c.marketplace = %(marketplace)s
            AND c.observed_at BETWEEN %(at)s - interval '24 hours' AND %(at)s
            AND u.asin = %(asin)s AND u.badges IS NOT NULL
          UNION ALL
          -- Rows of the old asin_history that `bestseller prune` has not converted yet.
          SELECT h.observed_at, (h.category_ranks -> %(category_key)s ->> 'rank')::int
          FROM asin_history h
          WHERE h.asin = %(asin)s AND h.marketplace = %(marketplace)s AND h.available
            AND h.category_ranks ? %(category_key)s
            AND h.observed_at BETWEEN %(at)s - interval '24 hours' AND %(at)s
        ) r ORDER BY r.observed_at) AS ranks,
  (SELECT max(c.detected_at) FROM bestseller_changes c
   WHERE c.asin = %(asin)s AND c.marketplace = %(marketplace)s
     AND c.category_id = %(category)s AND c.kind = 'gained' AND c.detected_at < %(at)s)
     AS gained_at,
  -- Held since we started watching: the first point at #1, or (the main category, kept
  -- per check) the baseline.
  (SELECT min(first.at) FROM (
     SELECT min(p.observed_at) AS at FROM rank_points p
     WHERE p.asin = %(asin)s AND p.marketplace = %(marketplace)s
       AND p.category_id = %(category)s AND p.rank = 1
     UNION ALL
     SELECT s.baseline_at FROM asin_current_state s
     WHERE s.asin = %(asin)s AND s.marketplace = %(marketplace)s
       AND s.main_category_id = %(category)s
     UNION ALL
     SELECT min(h.observed_at) FROM asin_history h
     WHERE h.asin = %(asin)s AND h.marketplace = %(marketplace)s
       AND %(category)s = ANY(h.badge_category_ids)) first) AS first_seen_holding,
  (SELECT max(c.detected_at) FROM bestseller_changes c
   WHERE c.asin = %(asin)s AND c.marketplace = %(marketplace)s
     AND c.category_id = %(category)s AND c.kind = 'lost' AND c.detected_at < %(at)s)
     AS last_lost_at
"""


def listed_holder(listed: dict[str, object]) -> ListedHolder:
    epoch = listed["updated_epoch"]
    updated_at = datetime.fromtimestamp(float(epoch), UTC) if epoch is not None else None
    return ListedHolder(asin=str(listed["asin"]), updated_at=updated_at)


def alert_story(conn: psycopg.Connection, item: OutboxItem) -> AlertStory:
    """Everything an alert says beyond the change, from our own records, in one query."""
    change = item.change
    # Never a generic plan: it cannot tell how selective `badge_category_ids @> $n` is.
    row = conn.execute(
        STORY_SQL,
        {
            "client": item.client_id,
            "kind": change.kind,
            "asin": change.asin,
            "marketplace": change.marketplace,
            "category": change.category_id,
            "category_key": str(change.category_id),
            "at": change.detected_at,
        },
        prepare=False,
    ).fetchone()
    assert row is not None
    new_holder, displaced, listed, ranks, gained_at, first_seen_holding, last_lost_at = row
    other = new_holder or displaced
    return AlertStory(
        other=OtherProduct(**other) if other else None,
        listed_holder=listed_holder(listed) if listed else None,
        ranks=ranks,
        badge_since=gained_at or first_seen_holding,
        since_is_lower_bound=gained_at is None,
        last_held_until=last_lost_at,
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
    conn.commit()
    return rows
