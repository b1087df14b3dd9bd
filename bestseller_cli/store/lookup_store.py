"""The optional holder lookup: Keepa's best seller lists looked up per run, naming who took
a badge a tracked product lost.

Owns keepa_best_seller_lists. Reads bestseller_changes, asin_current_state and
tracked_asins (the run's losses no tracked product explains), watched_categories (a loss a
fresh watched list explains) and api_usage_log (the last lookup's cost).
"""

from dataclasses import dataclass

import psycopg

from bestseller_cli.models import BestSellerList
from bestseller_cli.store.story_queries import FRESH_LIST_INTERVAL

# This run's losses that no other tracked product explains (the same test as the alert's
# "Now #1" line), nor a watched category's list near the loss (story_queries reads its head
# at no token), and whose category this run has not looked up yet.
UNEXPLAINED_LOSSES_SQL = f"""
SELECT DISTINCT c.marketplace, c.category_id
FROM bestseller_changes c
WHERE c.run_id = %(run)s AND c.kind = 'lost'
  AND NOT EXISTS (
    SELECT 1 FROM watched_categories w
    WHERE w.marketplace = c.marketplace AND w.category_id = c.category_id
      AND w.top_asins[1] <> c.asin
      AND w.list_updated_at BETWEEN c.detected_at - interval '{FRESH_LIST_INTERVAL}'
                                AND c.detected_at + interval '{FRESH_LIST_INTERVAL}')
  AND NOT EXISTS (
    SELECT 1 FROM keepa_best_seller_lists l
    WHERE l.run_id = c.run_id AND l.marketplace = c.marketplace
      AND l.category_id = c.category_id)
  AND NOT EXISTS (
    SELECT 1 FROM asin_current_state s
    JOIN tracked_asins t ON t.asin = s.asin AND t.marketplace = s.marketplace AND t.active
    WHERE s.marketplace = c.marketplace AND s.asin <> c.asin
      AND s.badge_category_ids @> ARRAY[c.category_id])
ORDER BY c.marketplace, c.category_id
"""

LOOKUP_SPENDING_SQL = """
SELECT
  (SELECT coalesce(sum(tokens_consumed), 0) FROM keepa_best_seller_lists
   WHERE run_id = %(run)s) AS spent_this_run,
  (SELECT tokens_consumed FROM api_usage_log
   WHERE endpoint = 'bestsellers' AND http_status = 200 AND tokens_consumed IS NOT NULL
   ORDER BY called_at DESC LIMIT 1) AS last_cost
"""


@dataclass(frozen=True)
class LookupWork:
    categories: list[tuple[str, int]]  # (marketplace, category_id)
    spent_this_run: int  # by an interrupted earlier attempt of this run
    last_cost: int | None  # tokens the latest successful lookup consumed


def holder_lookup_work(conn: psycopg.Connection, *, run_id: int) -> LookupWork:
    params = {"run": run_id}
    categories = [(row[0], row[1]) for row in conn.execute(UNEXPLAINED_LOSSES_SQL, params)]
    row = conn.execute(LOOKUP_SPENDING_SQL, params).fetchone()
    assert row is not None
    return LookupWork(categories=categories, spent_this_run=row[0], last_cost=row[1])


def record_best_seller_lists(
    conn: psycopg.Connection, lists: list[tuple[str, BestSellerList]], *, run_id: int
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO keepa_best_seller_lists (run_id, marketplace, category_id,"
            " holder_asin, list_updated_at, tokens_consumed) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [
                (
                    run_id,
                    marketplace,
                    listing.category_id,
                    listing.first_asin,
                    listing.updated_at,
                    listing.tokens_consumed,
                )
                for marketplace, listing in lists
            ],
        )
