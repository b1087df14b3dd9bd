"""SQL that tells alerts: each outbox row with its change and its story (story_queries), read
in one query per batch of alerts (claiming them on the way), and the marks that settle them
afterwards.

Every part of a story is found through an index and bounded in time, so the cost of an
alert does not grow with notification_log, bestseller_changes or asin_history.

Owns no table: a story's state is notification_log's story columns (the table is
outbox_store's), which this module claims, tells and settles. Reads bestseller_changes,
asin_current_state, tracked_asins, the history (asin_checks, rank_points, asin_history)
and keepa_best_seller_lists.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bestseller_cli.rules.story import AlertStory
from bestseller_cli.store.outbox_store import (
    NAMES_JOIN,
    SELECT_CHANGE,
    OutboxItem,
    RecentMessage,
    outbox_item,
)
from bestseller_cli.store.story_queries import (
    GAINED_AT,
    OF_CATEGORY,
    STORY_COLUMNS,
    STORY_WINDOW,
    SUBJECTS,
    story_from,
)


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


# Flap control: the last message posted for the same subject (kinds.py: the badge, ...) of
# the same category in the same channel within the row's re-notify window, and the kinds of
# change since. Starts from the product's own recent changes in the category
# (bestseller_changes_asin_idx), never from the whole log. %(subjects)s: kind -> subject.
# A watched category's kinds (%(of_category)s) have the category as subject, whichever
# product holds it: a flip between two holders updates one message.
RECENT = """
LEFT JOIN LATERAL (
  SELECT p.id, p.slack_ts, ARRAY(
           SELECT k.kind FROM bestseller_changes k
           WHERE (k.asin = c.asin OR c.kind = ANY(%(of_category)s))
             AND k.marketplace = c.marketplace
             AND k.category_id = c.category_id
             AND %(subjects)s::jsonb ->> k.kind = %(subjects)s::jsonb ->> c.kind
             AND k.changed_at BETWEEN pc.changed_at AND c.changed_at
           ORDER BY k.changed_at, k.id) AS kinds
  FROM bestseller_changes pc JOIN notification_log p ON p.change_id = pc.id
  WHERE i.action = 'post' AND i.renotify_window_minutes > 0
    AND (pc.asin = c.asin OR c.kind = ANY(%(of_category)s))
    AND pc.marketplace = c.marketplace AND pc.category_id = c.category_id
    AND %(subjects)s::jsonb ->> pc.kind = %(subjects)s::jsonb ->> c.kind
    AND pc.id <> c.id
    -- a message sent within the window announced a change at most a day older (held ones)
    AND pc.changed_at >= c.changed_at - make_interval(mins => i.renotify_window_minutes)
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
  UPDATE notification_log n SET story_update = 'updating', claim_token = %(token)s
  FROM told t
  WHERE t.action = 'update' AND n.id = t.id
    AND (t.new_holder IS NOT NULL OR t.displaced IS NOT NULL OR t.listed_holder IS NOT NULL)
  RETURNING n.id
)"""

CLAIM_AND_TELL_SQL = f"""
WITH claimed AS (
  UPDATE notification_log n SET status = 'sending', claimed_at = clock_timestamp(),
         claim_token = %(token)s, attempts = n.attempts + 1
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
  WHERE n.id = p.id AND n.claim_token IS NOT DISTINCT FROM %(token)s
  RETURNING n.id
), updated AS (
  UPDATE notification_log SET story_update = 'updated', story_updated_at = now()
  WHERE id = ANY(%(updated)s) AND claim_token IS NOT DISTINCT FROM %(token)s
  RETURNING id
), retry AS (
  UPDATE notification_log SET story_update = 'awaiting'
  WHERE id = ANY(%(retry)s) AND claim_token IS NOT DISTINCT FROM %(token)s
  RETURNING id
), given_up AS (
  UPDATE notification_log SET story_update = NULL
  WHERE id = ANY(%(given_up)s) AND claim_token IS NOT DISTINCT FROM %(token)s
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


def claim_and_tell(
    conn: psycopg.Connection,
    *,
    ids: list[int],
    categories: list[tuple[str, int]] | None,
    default_channel: str | None,
    now: datetime,
    token: str,
) -> list[ToldItem]:
    """One round trip: claim the instant rows among `ids` (DELIVERY.md step 1), and the
    awaiting messages of `categories` (None: of every category) that their story now
    completes, with the delivery's `token`; return both with their stories. Committed
    before Slack is called."""
    params = {
        "token": token,
        "ids": ids,
        "now": now,
        "default_channel": default_channel,
        "subjects": SUBJECTS,
        "of_category": OF_CATEGORY,
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
    params = {
        "ids": ids,
        "default_channel": default_channel,
        "subjects": SUBJECTS,
        "of_category": OF_CATEGORY,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(TELL_SQL, params, prepare=False).fetchall()
    return {row["id"]: told_item(row) for row in rows}


def settle(
    conn: psycopg.Connection,
    *,
    posted: list[Posted],
    updated: list[int],
    retry: list[int],
    given_up: list[int],
    token: str,
) -> None:
    """One round trip: posts marked sent with their ts (and whether their story awaits its
    other side), updates done, updates to try again, updates Slack refused for good; each
    only while the row still carries the claim's `token`."""
    if not (posted or updated or retry or given_up):
        return
    params = {
        "token": token,
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
