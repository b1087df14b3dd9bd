"""SQL that reads a change's story: who took #1 or was displaced, the holder Keepa's best
seller list names, the ranks of the last day, and since when the badge was held.

Owns no table. Reads bestseller_changes, asin_current_state, tracked_asins, the history
(asin_checks, rank_points, asin_history), keepa_best_seller_lists, and watched_categories
with listed_products (a watched list near a loss names who took it).
"""

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bestseller_cli.kinds import KINDS, ChangeKind
from bestseller_cli.rules.category_watch import FRESH_LIST
from bestseller_cli.rules.story import AlertStory, ListedHolder, OtherProduct
from bestseller_cli.store.outbox_store import OutboxItem

# How far apart a loss and a gain in one category may be to be one story (a gain's
# "displaced", a message awaiting its other side). Passes are hourly: the next pass is in.
STORY_WINDOW = "2 hours"
# Which kinds of change are one subject (kinds.py): they flap into one message.
SUBJECTS = Jsonb({kind.value: definition.subject for kind, definition in KINDS.items()})
# How near a loss a watched category's list names its new holder (rules/category_watch.py).
FRESH_LIST_INTERVAL = f"{FRESH_LIST.total_seconds():.0f} seconds"
# The kinds whose subject is the category itself, whichever product holds it (kinds.py).
OF_CATEGORY = [kind.value for kind, definition in KINDS.items() if definition.of_category]


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
            AND b.changed_at BETWEEN c.changed_at - interval '{STORY_WINDOW}'
                                 AND c.changed_at
          ORDER BY b.changed_at DESC LIMIT 1)
         UNION ALL
         (SELECT * FROM bestseller_changes a
          WHERE c.kind = 'gained' AND a.marketplace = c.marketplace
            AND a.category_id = c.category_id AND a.kind = 'lost' AND a.asin <> c.asin
            AND a.changed_at > c.changed_at
            AND a.changed_at <= c.changed_at + interval '{STORY_WINDOW}'
          ORDER BY a.changed_at LIMIT 1)) d
   ORDER BY abs(extract(epoch FROM d.changed_at - c.changed_at)) LIMIT 1) AS displaced,
  -- A loss's new holder per Keepa's list: a watched category's list near the loss (no token
  -- spent) naming another product, else the holder lookup's list of the run; titled from
  -- our records or the name kept for an untracked product.
  (SELECT jsonb_build_object('asin', h.asin, 'updated_epoch', extract(epoch FROM h.updated_at),
            'title', COALESCE(
              (SELECT s.title FROM asin_current_state s
               WHERE s.asin = h.asin AND s.marketplace = c.marketplace),
              (SELECT n.title FROM listed_products n
               WHERE n.asin = h.asin AND n.marketplace = c.marketplace)))
   FROM ((SELECT w.top_asins[1] AS asin, w.list_updated_at AS updated_at, 1 AS pick
          FROM watched_categories w
          WHERE c.kind = 'lost' AND w.marketplace = c.marketplace
            AND w.category_id = c.category_id AND w.top_asins[1] <> c.asin
            AND w.list_updated_at BETWEEN c.detected_at - interval '{FRESH_LIST_INTERVAL}'
                                      AND c.detected_at + interval '{FRESH_LIST_INTERVAL}')
         UNION ALL
         SELECT l.holder_asin, l.list_updated_at, 2
         FROM keepa_best_seller_lists l
         WHERE c.kind = 'lost' AND l.run_id = c.run_id AND l.marketplace = c.marketplace
           AND l.category_id = c.category_id AND l.holder_asin IS NOT NULL) h
   ORDER BY h.pick LIMIT 1) AS listed_holder,
  ARRAY(SELECT r.rank FROM (
          -- The rank in effect when the 24 hours began, then each change (a point per change).
          (SELECT p.observed_at, p.rank FROM rank_points p
           WHERE p.asin = c.asin AND p.marketplace = c.marketplace
             AND p.category_id = c.category_id
             AND p.observed_at <= c.changed_at - interval '24 hours'
           ORDER BY p.observed_at DESC LIMIT 1)
          UNION ALL
          SELECT p.observed_at, p.rank FROM rank_points p
          WHERE p.asin = c.asin AND p.marketplace = c.marketplace
            AND p.category_id = c.category_id
            AND p.observed_at > c.changed_at - interval '24 hours'
            AND p.observed_at <= c.changed_at
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
            AND k.observed_at BETWEEN c.changed_at - interval '24 hours' AND c.changed_at
            AND k.badge_counts[at.i] IS NOT NULL
          UNION ALL
          -- Rows of the old asin_history that `bestseller prune` has not converted yet.
          SELECT h.observed_at, (h.category_ranks -> c.category_id::text ->> 'rank')::int
          FROM asin_history h
          WHERE h.asin = c.asin AND h.marketplace = c.marketplace AND h.available
            AND h.category_ranks ? c.category_id::text
            AND h.observed_at BETWEEN c.changed_at - interval '24 hours' AND c.changed_at
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
  (SELECT max(k.changed_at) FROM bestseller_changes k
   WHERE k.asin = c.asin AND k.marketplace = c.marketplace
     AND k.category_id = c.category_id AND k.kind = 'lost' AND k.changed_at < c.changed_at)
     AS last_lost_at,
  -- Earlier changes of the same subject found by the same check (folded into this alert:
  -- routing.fold_between_checks), oldest first.
  ARRAY(SELECT jsonb_build_object('kind', k.kind, 'epoch', extract(epoch FROM k.changed_at))
        FROM bestseller_changes k
        WHERE k.asin = c.asin AND k.marketplace = c.marketplace
          AND k.category_id = c.category_id AND k.detected_at = c.detected_at
          AND k.changed_at < c.changed_at
          AND %(subjects)s::jsonb ->> k.kind = %(subjects)s::jsonb ->> c.kind
        ORDER BY k.changed_at) AS between_checks
"""

# max() of one range of bestseller_changes_badge_kind_idx: its last entry, however many
# changes the badge has had.
GAINED_AT = """
CROSS JOIN LATERAL (
  SELECT max(k.changed_at) AS gained_at FROM bestseller_changes k
  WHERE k.asin = c.asin AND k.marketplace = c.marketplace AND k.category_id = c.category_id
    AND k.kind = 'gained' AND k.changed_at < c.changed_at) g
"""


# One change's story without an outbox row (`c` built from the change; its run, for the
# listed holder, from the recorded change if there is one).
STORY_OF_SQL = f"""
SELECT {STORY_COLUMNS}
FROM (SELECT %(asin)s::text AS asin, %(marketplace)s::text AS marketplace,
             %(category)s::bigint AS category_id, %(kind)s::text AS kind,
             %(at)s::timestamptz AS detected_at, %(changed)s::timestamptz AS changed_at,
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
        "changed": change.changed_at,
        "client": item.client_id,
        "subjects": SUBJECTS,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(STORY_OF_SQL, params, prepare=False).fetchone()
    conn.commit()
    assert row is not None
    return story_from(row)


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
        between_checks=[
            (ChangeKind(entry["kind"]), datetime.fromtimestamp(float(entry["epoch"]), UTC))
            for entry in row["between_checks"]
        ],
    )


def listed_holder(listed: dict[str, object]) -> ListedHolder:
    epoch = listed["updated_epoch"]
    updated_at = datetime.fromtimestamp(float(epoch), UTC) if epoch is not None else None
    title = listed.get("title")
    return ListedHolder(
        asin=str(listed["asin"]), updated_at=updated_at, title=str(title) if title else None
    )
