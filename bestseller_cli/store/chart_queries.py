"""The SQL of the charts: products' compact history over a period, on a grid of buckets.

Reads the history as stored: checks (asin_checks: each check's main rank and badge count),
spans (check_spans: what `prune` keeps of older checks, badge or not), rank points
(rank_points: a point per change of any other category's rank) and category names. Each
query sums a bucket up in the database, so what crosses the wire grows with the number of
products and buckets, not with the checks.

Owns no table. The products are given as parallel arrays of ASINs and marketplaces.
"""

from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row, namedtuple_row

from bestseller_cli.shapes.rank_history import (
    MAX_CATEGORIES,
    RELEVANT_RANK,
    BucketFacts,
    CategoryPoints,
    Grid,
    ProductHistory,
)

_WANTED = "SELECT * FROM unnest(%(asins)s::text[], %(markets)s::text[]) AS w(asin, marketplace)"
_BUCKET = "floor(extract(epoch FROM {at} - %(since)s) / %(step)s)::int"

# Per product and bucket: its checks, those with Keepa data, its best main rank, whether it
# held #1 at one; and the checks spans kept, over every bucket a span reaches.
# Many products: every batch of the period unnested (a report), its bucket worked out once
# per batch (OFFSET 0 keeps the planner from folding it into each unnested check).
_EVERY_CHECK = f"""
    SELECT u.asin, k.marketplace, k.bucket, u.main_rank, u.badges
    FROM (SELECT k.marketplace, {_BUCKET.format(at="k.observed_at")} AS bucket,
                 k.asins, k.main_ranks, k.badge_counts
          FROM asin_checks k
          WHERE k.observed_at >= %(since)s AND k.observed_at < %(until)s
            AND k.marketplace = ANY(%(markets)s)
          OFFSET 0) k
    CROSS JOIN LATERAL unnest(k.asins, k.main_ranks, k.badge_counts) AS u(asin, main_rank, badges)
"""
# One product (an alert's chart): found in each batch by array_position rather than by
# unnesting every batch, as the alert's 24 h trajectory does (story_queries.py).
_ONE_PRODUCT_CHECKS = f"""
    SELECT %(asins)s[1] AS asin, k.marketplace, {_BUCKET.format(at="k.observed_at")} AS bucket,
           k.main_ranks[at.i] AS main_rank, k.badge_counts[at.i] AS badges
    FROM asin_checks k
    CROSS JOIN LATERAL (SELECT array_position(k.asins, %(asins)s[1]::text) AS i) at
    WHERE k.observed_at >= %(since)s AND k.observed_at < %(until)s
      AND k.marketplace = %(markets)s[1] AND at.i IS NOT NULL
"""
# The checks are summed up per bucket before they are matched with the products wanted: a
# join of every check with the list (2 million checks for 1,000 products over 90 days) cost
# more than the sums.
FACTS_SQL = """
WITH wanted AS ({wanted}),
checks AS ({checks}), sums AS (
    SELECT c.asin, c.marketplace, c.bucket, count(*)::int AS checks,
           count(c.badges)::int AS available, 0 AS summarized, bool_or(c.badges > 0) AS holding,
           min(c.main_rank) FILTER (WHERE c.badges IS NOT NULL) AS main_rank
    FROM checks c
    GROUP BY 1, 2, 3
), facts AS (
    SELECT s.* FROM sums s JOIN wanted w USING (asin, marketplace)
    UNION ALL
    SELECT p.asin, p.marketplace, b.bucket, 0, 0, p.checks, p.holding, NULL
    FROM check_spans p JOIN wanted w USING (asin, marketplace)
    CROSS JOIN LATERAL generate_series(
        greatest({started}, 0), least({ended}, %(count)s - 1)) AS b(bucket)
    WHERE p.ended_at >= %(since)s AND p.started_at < %(until)s
)
SELECT asin, marketplace, bucket, sum(checks)::int AS checks, sum(available)::int AS available,
       sum(summarized)::int AS summarized, bool_or(holding) AS holding, min(main_rank) AS main_rank
FROM facts
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


def facts_sql(*, products: int) -> str:
    checks = _ONE_PRODUCT_CHECKS if products == 1 else _EVERY_CHECK
    return FACTS_SQL.format(
        wanted=_WANTED,
        checks=checks,
        started=_BUCKET.format(at="p.started_at"),
        ended=_BUCKET.format(at="p.ended_at"),
    )


# Each product's main category (its rank is in the checks), and the other categories worth
# drawing: where it came within RELEVANT_RANK (so held #1 too) in the period or at its start,
# the best first; per bucket, the best rank of its points and the rank after them.
CATEGORIES_SQL = f"""
WITH wanted AS ({_WANTED}),
products AS (
    SELECT w.asin, w.marketplace, s.main_category_id, s.category_ranks
    FROM wanted w LEFT JOIN asin_current_state s USING (asin, marketplace)
), points AS (
    SELECT p.asin, p.marketplace, p.category_id, p.observed_at, p.rank
    FROM products w JOIN rank_points p USING (asin, marketplace)
    WHERE p.observed_at >= %(since)s AND p.observed_at < %(until)s
      AND p.category_id IS DISTINCT FROM w.main_category_id
), starts AS (
    SELECT DISTINCT ON (p.asin, p.marketplace, p.category_id)
           p.asin, p.marketplace, p.category_id, p.rank
    FROM products w JOIN rank_points p USING (asin, marketplace)
    WHERE p.observed_at < %(since)s AND p.category_id IS DISTINCT FROM w.main_category_id
    ORDER BY p.asin, p.marketplace, p.category_id, p.observed_at DESC
), best AS (
    SELECT asin, marketplace, category_id, min(rank) AS best
    FROM (SELECT asin, marketplace, category_id, rank FROM points
          UNION ALL SELECT asin, marketplace, category_id, rank FROM starts) r
    GROUP BY 1, 2, 3
), chosen AS (
    SELECT * FROM (
        SELECT b.*, row_number() OVER (PARTITION BY asin, marketplace
                                       ORDER BY best NULLS LAST, category_id) AS place
        FROM best b) r
    WHERE CASE WHEN %(only)s::bigint IS NULL THEN best <= %(relevant)s
               ELSE category_id = %(only)s END
), buckets AS (
    SELECT p.asin, p.marketplace, p.category_id, {_BUCKET.format(at="p.observed_at")} AS bucket,
           min(p.rank) AS best, (array_agg(p.rank ORDER BY p.observed_at DESC))[1] AS last
    FROM points p JOIN chosen c USING (asin, marketplace, category_id)
    WHERE c.place <= %(most)s
    GROUP BY 1, 2, 3, 4
)
SELECT w.asin, w.marketplace, w.main_category_id,
       COALESCE(mn.name, w.category_ranks -> w.main_category_id::text ->> 'name') AS main_name,
       c.category_id,
       COALESCE(n.name, w.category_ranks -> c.category_id::text ->> 'name') AS name,
       s.rank AS start_rank, s.asin IS NOT NULL AS started,
       COALESCE(array_agg(b.bucket ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{{}}')
           AS buckets,
       COALESCE(array_agg(b.best ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{{}}')
           AS best,
       COALESCE(array_agg(b.last ORDER BY b.bucket) FILTER (WHERE b.bucket IS NOT NULL), '{{}}')
           AS last
FROM products w
LEFT JOIN category_names mn
  ON mn.marketplace = w.marketplace AND mn.category_id = w.main_category_id
LEFT JOIN chosen c ON c.asin = w.asin AND c.marketplace = w.marketplace AND c.place <= %(most)s
LEFT JOIN category_names n ON n.marketplace = w.marketplace AND n.category_id = c.category_id
LEFT JOIN starts s
  ON (s.asin, s.marketplace, s.category_id) = (c.asin, c.marketplace, c.category_id)
LEFT JOIN buckets b
  ON (b.asin, b.marketplace, b.category_id) = (c.asin, c.marketplace, c.category_id)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, c.place
ORDER BY w.asin, w.marketplace, c.place
"""


@dataclass(frozen=True)
class _CategoryRow:
    asin: str
    marketplace: str
    main_category_id: int | None
    main_name: str | None
    category_id: int | None
    name: str | None
    start_rank: int | None
    started: bool
    buckets: list[int]
    best: list[int | None]
    last: list[int | None]


def product_histories(
    conn: psycopg.Connection,
    *,
    products: list[tuple[str, str]],
    grid: Grid,
    category_id: int | None = None,
) -> list[ProductHistory]:
    """The history of each (asin, marketplace) on `grid`, in the order given; with
    `category_id`, only that category besides the main one (an alert's chart)."""
    params = {
        "asins": [asin for asin, _ in products],
        "markets": [marketplace for _, marketplace in products],
        "since": grid.since,
        "until": grid.until,
        "step": grid.step.total_seconds(),
        "count": grid.count,
        "relevant": RELEVANT_RANK,
        "most": MAX_CATEGORIES,
        "only": category_id,
    }
    facts: dict[tuple[str, str], list[BucketFacts]] = {}
    # Rows by name as named tuples: for 144,000 rows, far cheaper than class_row's dict a row.
    with conn.cursor(row_factory=namedtuple_row) as cur:
        for row in cur.execute(facts_sql(products=len(products)), params):
            facts.setdefault((row.asin, row.marketplace), []).append(
                BucketFacts(
                    bucket=row.bucket,
                    checks=row.checks,
                    available=row.available,
                    summarized=row.summarized,
                    holding=row.holding,
                    main_rank=row.main_rank,
                )
            )
    found: dict[tuple[str, str], ProductHistory] = {}
    with conn.cursor(row_factory=class_row(_CategoryRow)) as cur:
        for row in cur.execute(CATEGORIES_SQL, params):
            key = (row.asin, row.marketplace)
            product = found.setdefault(
                key,
                ProductHistory(
                    asin=row.asin,
                    marketplace=row.marketplace,
                    main_category_id=row.main_category_id,
                    main_category_name=row.main_name,
                    facts=facts.get(key, []),
                    categories=[],
                ),
            )
            if row.category_id is not None:
                product.categories.append(
                    CategoryPoints(
                        category_id=row.category_id,
                        name=row.name,
                        start_rank=row.start_rank,
                        started=row.started,
                        buckets=row.buckets,
                        best=row.best,
                        last=row.last,
                    )
                )
    return [found[key] for key in products if key in found]
