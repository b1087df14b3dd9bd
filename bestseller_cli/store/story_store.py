"""SQL that tells alerts: each outbox row with its change and its story, read in one query
per batch of alerts (claiming them on the way), and the marks that settle them afterwards.

Every part of a story is found through an index and bounded in time, so the cost of an
alert does not grow with notification_log, bestseller_changes or asin_history.

Owns no table: a story's state is notification_log's story columns (the table is
outbox_store's), which this module claims, tells and settles. Reads bestseller_changes,
asin_current_state, tracked_asins, the history (asin_checks, rank_points, asin_history)
and keepa_best_seller_lists.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bestseller_cli.kinds import KINDS
from bestseller_cli.outbox_store import (
    NAMES_JOIN,
    SELECT_CHANGE,
    OutboxItem,
    RecentMessage,
    outbox_item,
)
from bestseller_cli.story import AlertStory, ListedHolder, OtherProduct

# Which kinds of change flap into one message (kinds.py), for RECENT.
SUBJECTS = Jsonb({kind.value: definition.subject for kind, definition in KINDS.items()})
# How far apart a loss and a gain in one category may be to be one story (a gain's
# "displaced", a message awaiting its other side). Passes are hourly: the next pass is in.
STORY_WINDOW = "2 hours"


@dataclass(frozen=True)
class ToldItem:
    """An outbox row to post (`posted_ts` None) or a posted message to update in place."""

    item: OutboxItem
    story: AlertStory
    recent: RecentMessage | None = None  # flap control: the badge's message in the window
    recent_id: int | None = None  # that message's outbox row
    posted_ts: str | None = None  # an update: the message's ts (channel in item.channel)


@dataclass(frozen=True)
class Posted:
    id: int
    channel: str
    ts: str
    awaiting: bool  # posted without the other side of its story: update it when found


# The story of change `c` for outbox row `i` (client_id); see story.AlertStory. "Is it
# tracked" is count(*) > 0, not EXISTS: the planner may turn an EXISTS into a hash of every
# tracked ASIN, built again for each alert (100k rows at 100k ASINs); a count is always an
# index lookup of the one ASIN.
STORY_COLUMNS = f"""
  (SELECT jsonb_build_object('asin', s.asin, 'title', s.title, 'own', (
            SELECT count(*) FROM tracked_asins own WHERE own.asin = s.asin
            AND own.marketplace = s.marketplace AND own.active AND own.role = 'own'
            AND own.client_id IS NOT DISTINCT FROM i.client_id) > 0)
   FROM asin_current_state s
   WHERE c.kind = 'lost' AND s.marketplace = c.marketplace AND s.asin <> c.asin
     AND s.badge_category_ids @> ARRAY[c.category_id]
     AND (SELECT count(*) FROM tracked_asins t WHERE t.asin = s.asin
          AND t.marketplace = s.marketplace AND t.active) > 0
   ORDER BY s.last_checked_at DESC LIMIT 1) AS new_holder,
  -- The nearest loss before and after, each the end of a bestseller_changes_category_kind_idx
  -- range.
  (SELECT jsonb_build_object('asin', d.asin, 'title', d.title, 'own', (
            SELECT count(*) FROM tracked_asins own WHERE own.asin = d.asin
            AND own.marketplace = d.marketplace AND own.active AND own.role = 'own'
            AND own.client_id IS NOT DISTINCT FROM i.client_id) > 0)
   FROM ((SELECT * FROM bestseller_changes b
          WHERE c.kind = 'gained' AND b.marketplace = c.marketplace
            AND b.category_id = c.category_id AND b.kind = 'lost' AND b.asin <> c.asin
            AND b.detected_at BETWEEN c.detected_at - interval '{STORY_WINDOW}'
                                  AND c.detected_at
          ORDER BY b.detected_at DESC LIMIT 1)
         UNION ALL
         (SELECT * FROM bestseller_changes a
          WHERE c.kind = 'gained' AND a.marketplace = c.marketplace
            AND a.category_id = c.category_id AND a.kind = 'lost' AND a.asin <> c.asin
            AND a.detected_at > c.detected_at
            AND a.detected_at <= c.detected_at + interval '{STORY_WINDOW}'
          ORDER BY a.detected_at LIMIT 1)) d
   ORDER BY abs(extract(epoch FROM d.detected_at - c.detected_at)) LIMIT 1) AS displaced,
  (SELECT jsonb_build_object('asin', l.holder_asin,
                             'updated_epoch', extract(epoch FROM l.list_updated_at))
   FROM keepa_best_seller_lists l
   WHERE c.kind = 'lost' AND l.run_id = c.run_id AND l.marketplace = c.marketplace
     AND l.category_id = c.category_id AND l.holder_asin IS NOT NULL) AS listed_holder,
  ARRAY(SELECT r.rank FROM (
          -- The rank in effect when the 24 hours began, then each change (a point per change).
          (SELECT p.observed_at, p.rank FROM rank_points p
           WHERE p.asin = c.asin AND p.marketplace = c.marketplace
             AND p.category_id = c.category_id
             AND p.observed_at <= c.detected_at - interval '24 hours'
           ORDER BY p.observed_at DESC LIMIT 1)
          UNION ALL
          SELECT p.observed_at, p.rank FROM rank_points p
          WHERE p.asin = c.asin AND p.marketplace = c.marketplace
            AND p.category_id = c.category_id
            AND p.observed_at > c.detected_at - interval '24 hours'
            AND p.observed_at <= c.detected_at
          UNION ALL
          -- The main category's rank is kept per check. Each batch of the 24 hours is read,
          -- so this grows with the watch list: the ASIN is found by array_position rather
          -- than by unnesting every batch (4x less at 100,000 ASINs).
          SELECT k.observed_at, k.main_ranks[at.i]
          FROM asin_checks k
          CROSS JOIN LATERAL (SELECT array_position(k.asins, c.asin::text) AS i) at
          WHERE c.category_id = (SELECT s.main_category_id FROM asin_current_state s
                                 WHERE s.asin = c.asin AND s.marketplace = c.marketplace)
            AND k.marketplace = c.marketplace
            AND k.observed_at BETWEEN c.detected_at - interval '24 hours' AND c.detected_at
            AND k.badge_counts[at.i] IS NOT NULL
          UNION ALL
          -- Rows of the old asin_history that `bestseller prune` has not converted yet.
          SELECT h.observed_at, (h.category_ranks -> c.category_id::text ->> 'rank')::int
          FROM asin_history h
          WHERE h.asin = c.asin AND h.marketplace = c.marketplace AND h.available
            AND h.category_ranks ? c.category_id::text
            AND h.observed_at BETWEEN c.detected_at - interval '24 hours' AND c.detected_at
        ) r ORDER BY r.observed_at) AS ranks,
  g.gained_at,
  -- Only without a recorded gain, held since we started watching: the first point at #1,
  -- or (the main category, kept per check) the baseline. The first rows match.
  (SELECT min(first.at) FROM (
     SELECT min(p.observed_at) AS at FROM rank_points p
     WHERE g.gained_at IS NULL AND p.asin = c.asin AND p.marketplace = c.marketplace
       AND p.category_id = c.category_id AND p.rank = 1
     UNION ALL
     SELECT s.baseline_at FROM asin_current_state s
     WHERE g.gained_at IS NULL AND s.asin = c.asin AND s.marketplace = c.marketplace
       AND s.main_category_id = c.category_id
     UNION ALL
     SELECT min(h.observed_at) FROM asin_history h
     WHERE g.gained_at IS NULL AND h.asin = c.asin AND h.marketplace = c.marketplace
       AND c.category_id = ANY(h.badge_category_ids)) first) AS first_seen_holding,
  (SELECT max(k.detected_at) FROM bestseller_changes k
   WHERE k.asin = c.asin AND k.marketplace = c.marketplace
     AND k.category_id = c.category_id AND k.kind = 'lost' AND k.detected_at < c.detected_at)
     AS last_lost_at
"""

# max() of one range of bestseller_changes_badge_kind_idx: its last entry, however many
# changes the badge has had.
GAINED_AT = """
CROSS JOIN LATERAL (
  SELECT max(k.detected_at) AS gained_at FROM bestseller_changes k
  WHERE k.asin = c.asin AND k.marketplace = c.marketplace AND k.category_id = c.category_id
    AND k.kind = 'gained' AND k.detected_at < c.detected_at) g
"""

# Flap control: the last message posted for the same subject (kinds.py: the badge, ...) of
# the same category in the same channel within the row's re-notify window, and the kinds of
# change since. Starts from the product's own recent changes in the category
# (bestseller_changes_asin_idx), never from the whole log. %(subjects)s: kind -> subject.
RECENT = """
LEFT JOIN LATERAL (
  SELECT p.id, p.slack_ts, ARRAY(
           SELECT k.kind FROM bestseller_changes k
           WHERE k.asin = c.asin AND k.marketplace = c.marketplace
             AND k.category_id = c.category_id
             AND %(subjects)s::jsonb ->> k.kind = %(subjects)s::jsonb ->> c.kind
             AND k.detected_at BETWEEN pc.detected_at AND c.detected_at
           ORDER BY k.detected_at, k.id) AS kinds
  FROM bestseller_changes pc JOIN notification_log p ON p.change_id = pc.id
  WHERE i.action = 'post' AND i.renotify_window_minutes > 0
    AND pc.asin = c.asin AND pc.marketplace = c.marketplace AND pc.category_id = c.category_id
    AND %(subjects)s::jsonb ->> pc.kind = %(subjects)s::jsonb ->> c.kind
    AND pc.id <> c.id
    -- a message sent within the window announced a change at most a day older (held ones)
    AND pc.detected_at >= c.detected_at - make_interval(mins => i.renotify_window_minutes)
                          - interval '1 day'
    AND p.status = 'sent' AND p.slack_ts IS NOT NULL
    AND p.slack_channel = COALESCE(i.channel, %(default_channel)s)
    AND p.sent_at >= now() - make_interval(mins => i.renotify_window_minutes)
  ORDER BY p.sent_at DESC LIMIT 1) recent ON true
"""

ITEM_COLUMNS = f"""
  i.id, i.action, i.channel, i.slack_ts, i.client_id, i.delivery_mode,
  i.renotify_window_minutes, i.deliver_after > i.created_at + interval '1 minute' AS held,
  {SELECT_CHANGE}
"""

ROW_COLUMNS = (
    "id, change_id, client_id, delivery_mode, renotify_window_minutes, deliver_after, created_at"
)

# Messages waiting for the other side of their story, in the given categories (or all):
# their story is read again, and those it now completes are claimed for chat.update.
AWAITING = """
awaiting AS (
  SELECT n.id, n.change_id, n.client_id, n.delivery_mode, n.renotify_window_minutes,
         n.deliver_after, n.created_at, n.slack_channel AS channel, n.slack_ts,
         'update'::text AS action
  FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id
  WHERE n.story_update IN ('awaiting', 'updating')
    AND (%(everywhere)s OR (c.marketplace, c.category_id) IN (
         SELECT * FROM unnest(%(marketplaces)s::text[], %(categories)s::bigint[])))
)"""

TOLD = f"""
told AS (
  SELECT {ITEM_COLUMNS}, {STORY_COLUMNS}, recent.id AS recent_id,
         recent.slack_ts AS recent_ts, recent.kinds AS recent_kinds
  FROM items i JOIN bestseller_changes c ON c.id = i.change_id
  {NAMES_JOIN}
  {GAINED_AT}
  {RECENT}
)"""

# A message awaiting its other side (story.awaits_other_side) now has it, in SQL (each part
# of a story is read for its own kind only): the update is claimed in this statement.
UPDATING = """
updating AS (
  UPDATE notification_log n SET story_update = 'updating'
  FROM told t
  WHERE t.action = 'update' AND n.id = t.id
    AND (t.new_holder IS NOT NULL OR t.displaced IS NOT NULL OR t.listed_holder IS NOT NULL)
  RETURNING n.id
)"""

CLAIM_AND_TELL_SQL = f"""
WITH claimed AS (
  UPDATE notification_log n SET status = 'sending', claimed_at = clock_timestamp(),
         attempts = n.attempts + 1
  WHERE n.id = ANY(%(ids)s) AND n.status = 'pending' AND n.delivery_mode = 'instant'
    AND n.deliver_after <= %(now)s AND n.deliver_after <= n.created_at + interval '1 minute'
    AND (n.channel IS NOT NULL OR %(default_channel)s::text IS NOT NULL)
  RETURNING {ROW_COLUMNS}, channel, NULL::text AS slack_ts, 'post'::text AS action
), {AWAITING},
items AS (SELECT * FROM claimed UNION ALL SELECT * FROM awaiting),
{TOLD},
{UPDATING}
SELECT * FROM told WHERE action = 'post' OR id IN (SELECT id FROM updating)
ORDER BY action, id
"""

TELL_SQL = f"""
WITH items AS (
  SELECT {ROW_COLUMNS}, channel, NULL::text AS slack_ts, 'post'::text AS action
  FROM notification_log WHERE id = ANY(%(ids)s)
), {TOLD}
SELECT * FROM told ORDER BY id
"""

SETTLE_SQL = """
WITH posted AS (
  UPDATE notification_log n SET status = 'sent', sent_at = now(), slack_channel = p.channel,
         slack_ts = p.ts, error = NULL,
         story_update = CASE WHEN p.awaiting THEN 'awaiting' END
  FROM unnest(%(posted)s::bigint[], %(channels)s::text[], %(ts)s::text[],
              %(awaiting)s::boolean[]) AS p(id, channel, ts, awaiting)
  WHERE n.id = p.id
  RETURNING n.id
), updated AS (
  UPDATE notification_log SET story_update = 'updated', story_updated_at = now()
  WHERE id = ANY(%(updated)s)
  RETURNING id
), retry AS (
  UPDATE notification_log SET story_update = 'awaiting'
  WHERE id = ANY(%(retry)s)
  RETURNING id
), given_up AS (
  UPDATE notification_log SET story_update = NULL
  WHERE id = ANY(%(given_up)s)
  RETURNING id
)
SELECT (SELECT count(*) FROM posted), (SELECT count(*) FROM updated)
"""

EXPIRE_SQL = f"""
UPDATE notification_log n SET story_update = NULL
FROM bestseller_changes c
WHERE n.story_update IN ('awaiting', 'updating') AND c.id = n.change_id
  AND c.detected_at < %(now)s - interval '{STORY_WINDOW}'
"""


# One change's story without an outbox row (`c` built from the change; its run, for the
# listed holder, from the recorded change if there is one).
STORY_OF_SQL = f"""
SELECT {STORY_COLUMNS}
FROM (SELECT %(asin)s::text AS asin, %(marketplace)s::text AS marketplace,
             %(category)s::bigint AS category_id, %(kind)s::text AS kind,
             %(at)s::timestamptz AS detected_at,
             (SELECT r.run_id FROM bestseller_changes r
              WHERE r.asin = %(asin)s AND r.marketplace = %(marketplace)s
                AND r.category_id = %(category)s AND r.detected_at = %(at)s
              LIMIT 1) AS run_id) c
CROSS JOIN (SELECT %(client)s::bigint AS client_id) i
{GAINED_AT}
"""


def alert_story(conn: psycopg.Connection, item: OutboxItem) -> AlertStory:
    """The story of one change, for one client's alert (its outbox row not needed)."""
    change = item.change
    params = {
        "asin": change.asin,
        "marketplace": change.marketplace,
        "category": change.category_id,
        "kind": change.kind,
        "at": change.detected_at,
        "client": item.client_id,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(STORY_OF_SQL, params, prepare=False).fetchone()
    conn.commit()
    assert row is not None
    return story_from(row)


def claim_and_tell(
    conn: psycopg.Connection,
    *,
    ids: list[int],
    categories: list[tuple[str, int]] | None,
    default_channel: str | None,
    now: datetime,
) -> list[ToldItem]:
    """One round trip: claim the instant rows among `ids` (DELIVERY.md step 1), and the
    awaiting messages of `categories` (None: of every category) that their story now
    completes; return both with their stories. Committed before Slack is called."""
    params = {
        "ids": ids,
        "now": now,
        "default_channel": default_channel,
        "subjects": SUBJECTS,
        "everywhere": categories is None,
        "marketplaces": [marketplace for marketplace, _ in categories or []],
        "categories": [category for _, category in categories or []],
    }
    # Never a generic plan: it cannot tell how selective `badge_category_ids @> ...` is.
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(CLAIM_AND_TELL_SQL, params, prepare=False).fetchall()
    conn.commit()  # one statement: on the pass's autocommit connection, no extra round trip
    return [told_item(row) for row in rows]


def tell(
    conn: psycopg.Connection, ids: list[int], *, default_channel: str | None
) -> dict[int, ToldItem]:
    """The rows `ids` with their stories, claiming nothing."""
    if not ids:
        return {}
    params = {"ids": ids, "default_channel": default_channel, "subjects": SUBJECTS}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(TELL_SQL, params, prepare=False).fetchall()
    conn.commit()
    return {row["id"]: told_item(row) for row in rows}


def settle(
    conn: psycopg.Connection,
    *,
    posted: list[Posted],
    updated: list[int],
    retry: list[int],
    given_up: list[int],
) -> None:
    """One round trip: posts marked sent with their ts (and whether their story awaits its
    other side), updates done, updates to try again, updates Slack refused for good."""
    if not (posted or updated or retry or given_up):
        return
    params = {
        "posted": [p.id for p in posted],
        "channels": [p.channel for p in posted],
        "ts": [p.ts for p in posted],
        "awaiting": [p.awaiting for p in posted],
        "updated": updated,
        "retry": retry,
        "given_up": given_up,
    }
    conn.execute(SETTLE_SQL, params)
    conn.commit()


def expire_awaiting(conn: psycopg.Connection, *, now: datetime) -> None:
    """Messages whose other side did not turn up within the story window stay as they are."""
    conn.execute(EXPIRE_SQL, {"now": now})
    conn.commit()


def told_item(row: dict[str, Any]) -> ToldItem:
    """A row of `told` (ITEM_COLUMNS, STORY_COLUMNS, the recent message), by column name."""
    recent_ts = row["recent_ts"]
    recent = RecentMessage(ts=recent_ts, kinds=list(row["recent_kinds"])) if recent_ts else None
    return ToldItem(
        item=outbox_item(row),
        story=story_from(row),
        recent=recent,
        recent_id=row["recent_id"],
        posted_ts=row["slack_ts"] if row["action"] == "update" else None,
    )


def story_from(row: dict[str, Any]) -> AlertStory:
    """An AlertStory from the columns of STORY_COLUMNS, by name."""
    other = row["new_holder"] or row["displaced"]
    gained_at = row["gained_at"]
    listed = row["listed_holder"]
    return AlertStory(
        other=OtherProduct(**other) if other else None,
        listed_holder=listed_holder(listed) if listed else None,
        ranks=row["ranks"],
        badge_since=gained_at or row["first_seen_holding"],
        since_is_lower_bound=gained_at is None,
        last_held_until=row["last_lost_at"],
    )


def listed_holder(listed: dict[str, object]) -> ListedHolder:
    epoch = listed["updated_epoch"]
    updated_at = datetime.fromtimestamp(float(epoch), UTC) if epoch is not None else None
    return ListedHolder(asin=str(listed["asin"]), updated_at=updated_at)
