"""The observed history and its upkeep: converting old asin_history rows, retention,
purging ASINs no one tracks, and the database's size.

Owns asin_checks, rank_points, asin_details (appended to by check_store's batch write),
check_spans and the legacy asin_history; writes category_names (names found in old rows).
A purge also deletes the ASIN's bestseller_changes and asin_current_state (check_store's)
and so its alerts (notification_log, by cascade). Reads tracked_asins and check_runs.

Every function does one bounded batch in one short transaction (the caller's), so that a
`check` running meanwhile never waits for it: the pass only inserts new rows and updates
asin_current_state, which none of these touch.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg

# One batch of old rows (oldest first) becomes checks, rank points, detail points and
# category names; the rows are deleted in the same statement, so a batch is converted once.
# A point is written where the value differs from the one before it: the row before in this
# batch, else the latest point already stored.
CONVERT_LEGACY_SQL = """
WITH batch AS (
    DELETE FROM asin_history WHERE id IN (
        SELECT id FROM asin_history ORDER BY observed_at, id LIMIT %(limit)s)
    RETURNING *
), checks AS (
    INSERT INTO asin_checks (run_id, marketplace, observed_at, asins, main_ranks, badge_counts)
    SELECT run_id, marketplace, observed_at, array_agg(asin ORDER BY asin),
        array_agg(main_rank ORDER BY asin),
        array_agg(CASE WHEN available THEN cardinality(badge_category_ids)::smallint END
                  ORDER BY asin)
    FROM batch GROUP BY run_id, marketplace, observed_at
), entries AS (
    SELECT b.asin, b.marketplace, b.observed_at, b.available, b.main_category_id,
        e.key::bigint AS category_id, (e.value ->> 'rank')::int AS rank, e.value ->> 'name' AS name
    FROM batch b CROSS JOIN LATERAL jsonb_each(b.category_ranks) AS e
), names AS (
    INSERT INTO category_names (marketplace, category_id, name, source)
    SELECT DISTINCT ON (marketplace, category_id) marketplace, category_id, name, 'tree'
    FROM entries WHERE name IS NOT NULL
    ORDER BY marketplace, category_id, observed_at DESC
    ON CONFLICT (marketplace, category_id) DO NOTHING
), ranks AS (
    SELECT e.*, lag(e.observed_at) OVER w AS before_at, lag(e.rank) OVER w AS before_rank
    FROM entries e
    WHERE e.available AND e.category_id IS DISTINCT FROM e.main_category_id
    WINDOW w AS (PARTITION BY e.asin, e.marketplace, e.category_id ORDER BY e.observed_at)
), points AS (
    INSERT INTO rank_points (asin, marketplace, category_id, observed_at, rank)
    SELECT r.asin, r.marketplace, r.category_id, r.observed_at, r.rank
    FROM ranks r
    LEFT JOIN LATERAL (
        SELECT true AS found, p.rank FROM rank_points p
        WHERE r.before_at IS NULL AND p.asin = r.asin AND p.marketplace = r.marketplace
          AND p.category_id = r.category_id AND p.observed_at < r.observed_at
        ORDER BY p.observed_at DESC LIMIT 1) last ON true
    WHERE CASE WHEN r.before_at IS NOT NULL THEN r.rank IS DISTINCT FROM r.before_rank
               ELSE last.found IS NULL OR r.rank IS DISTINCT FROM last.rank END
    ON CONFLICT DO NOTHING
), details AS (
    SELECT b.asin, b.marketplace, b.observed_at, b.available, b.title, b.main_category_id,
        b.price_cents, b.rating, b.review_count,
        row_number() OVER w AS n,
        ROW(b.available, b.title, b.main_category_id, b.price_cents, b.rating, b.review_count)
        IS DISTINCT FROM ROW(lag(b.available) OVER w, lag(b.title) OVER w,
            lag(b.main_category_id) OVER w, lag(b.price_cents) OVER w, lag(b.rating) OVER w,
            lag(b.review_count) OVER w) AS changed
    FROM batch b
    WINDOW w AS (PARTITION BY b.asin, b.marketplace ORDER BY b.observed_at)
), detail_points AS (
    INSERT INTO asin_details (asin, marketplace, observed_at, available, title,
        main_category_id, price_cents, rating, review_count)
    SELECT d.asin, d.marketplace, d.observed_at, d.available, d.title, d.main_category_id,
        d.price_cents, d.rating, d.review_count
    FROM details d
    LEFT JOIN LATERAL (
        SELECT x.* FROM asin_details x
        WHERE d.n = 1 AND x.asin = d.asin AND x.marketplace = d.marketplace
          AND x.observed_at < d.observed_at
        ORDER BY x.observed_at DESC LIMIT 1) last ON true
    WHERE CASE WHEN d.n > 1 THEN d.changed
               ELSE last.asin IS NULL
                 OR ROW(d.available, d.title, d.main_category_id, d.price_cents, d.rating,
                        d.review_count)
                    IS DISTINCT FROM ROW(last.available, last.title, last.main_category_id,
                        last.price_cents, last.rating, last.review_count) END
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM batch
"""

# One UTC day of checks past the window becomes spans: runs of consecutive checks of an ASIN
# with the same badge status (held #1, did not, no data). Main ranks go with the checks.
SUMMARIZE_DAY_SQL = """
WITH day AS (
    DELETE FROM asin_checks
    WHERE observed_at >= %(day)s AND observed_at < %(day)s + interval '1 day'
    RETURNING marketplace, observed_at, asins, badge_counts
), checks AS (
    SELECT u.asin, d.marketplace, d.observed_at, u.badges > 0 AS holding
    FROM day d CROSS JOIN LATERAL unnest(d.asins, d.badge_counts) AS u(asin, badges)
), islands AS (
    SELECT *,
        row_number() OVER (PARTITION BY asin, marketplace ORDER BY observed_at)
        - row_number() OVER (PARTITION BY asin, marketplace, holding ORDER BY observed_at)
            AS island
    FROM checks
), spans AS (
    INSERT INTO check_spans (asin, marketplace, started_at, ended_at, checks, holding)
    SELECT asin, marketplace, min(observed_at), max(observed_at), count(*), holding
    FROM islands GROUP BY asin, marketplace, holding, island
    RETURNING 1
)
SELECT (SELECT count(*) FROM day), (SELECT count(*) FROM spans)
"""

# Points past the window that a later point (also past it) supersedes. Rank points at #1 stay:
# they tell since when a badge has been held.
PRUNE_POINTS_SQL = {
    "rank_points": """
DELETE FROM rank_points p USING (
    SELECT o.ctid FROM rank_points o
    WHERE o.observed_at < %(cutoff)s AND o.rank IS DISTINCT FROM 1
      AND EXISTS (SELECT 1 FROM rank_points n
                  WHERE n.asin = o.asin AND n.marketplace = o.marketplace
                    AND n.category_id = o.category_id
                    AND n.observed_at > o.observed_at AND n.observed_at < %(cutoff)s)
    LIMIT %(limit)s) old
WHERE p.ctid = old.ctid
""",
    "asin_details": """
DELETE FROM asin_details d USING (
    SELECT o.ctid FROM asin_details o
    WHERE o.observed_at < %(cutoff)s
      AND EXISTS (SELECT 1 FROM asin_details n
                  WHERE n.asin = o.asin AND n.marketplace = o.marketplace
                    AND n.observed_at > o.observed_at AND n.observed_at < %(cutoff)s)
    LIMIT %(limit)s) old
WHERE d.ctid = old.ctid
""",
}


def convert_legacy_batch(conn: psycopg.Connection, *, limit: int) -> int:
    """Convert the oldest `limit` rows of the old asin_history; returns how many there were."""
    with conn.transaction():
        row = conn.execute(CONVERT_LEGACY_SQL, {"limit": limit}).fetchone()
    return row[0] if row else 0


def has_old_history(conn: psycopg.Connection) -> bool:
    """Rows older versions wrote to asin_history are left to convert."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM asin_history)").fetchone()
    return bool(row and row[0])


def oldest_check_day(conn: psycopg.Connection, *, before: datetime) -> datetime | None:
    """Midnight UTC of the oldest day with checks before `before`, if any."""
    row = conn.execute(
        "SELECT date_trunc('day', min(observed_at), 'UTC') FROM asin_checks WHERE observed_at < %s",
        (before,),
    ).fetchone()
    return row[0] if row else None


def summarize_day(conn: psycopg.Connection, *, day: datetime) -> tuple[int, int]:
    """Replace one UTC day of checks by spans; returns (batches removed, spans written)."""
    with conn.transaction():
        row = conn.execute(SUMMARIZE_DAY_SQL, {"day": day}).fetchone()
    assert row is not None
    return row[0], row[1]


def prune_points_batch(
    conn: psycopg.Connection, *, table: str, cutoff: datetime, limit: int
) -> int:
    """Delete up to `limit` superseded points of `table` older than `cutoff`."""
    with conn.transaction():
        return conn.execute(PRUNE_POINTS_SQL[table], {"cutoff": cutoff, "limit": limit}).rowcount


# --- size, for `doctor` ------------------------------------------------------------------


@dataclass(frozen=True)
class SizeSample:
    at: datetime
    bytes: int


def database_size(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def size_samples(conn: psycopg.Connection, *, since: datetime) -> list[SizeSample]:
    """The database's size as each pass since `since` left it (check_runs.summary)."""
    rows = conn.execute(
        "SELECT finished_at, (summary ->> 'database_bytes')::bigint FROM check_runs"
        " WHERE finished_at >= %s AND summary ? 'database_bytes' ORDER BY finished_at",
        (since,),
    ).fetchall()
    return [SizeSample(at=at, bytes=size) for at, size in rows]


def purge_history(
    conn: psycopg.Connection, *, asins: list[str], marketplace: str | None
) -> tuple[list[str], list[str]]:
    """Delete everything observed about ASINs no one tracks any more (per marketplace).

    Returns (ASINs purged, ASINs whose history was kept because someone still tracks them)."""
    still_tracked = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT asin FROM tracked_asins WHERE active AND asin = ANY(%s)"
            " AND (%s::text IS NULL OR marketplace = %s)",
            (asins, marketplace, marketplace),
        )
    }
    # Changes go first; their outbox rows (notification_log) follow by ON DELETE CASCADE.
    for table in (
        "bestseller_changes",
        "asin_history",
        "rank_points",
        "asin_details",
        "check_spans",
        "asin_current_state",
    ):
        conn.execute(
            f"DELETE FROM {table} t WHERE t.asin = ANY(%s)"
            " AND (%s::text IS NULL OR t.marketplace = %s)"
            " AND NOT (t.asin, t.marketplace) IN"
            "  (SELECT asin, marketplace FROM tracked_asins WHERE active)",
            (asins, marketplace, marketplace),
        )
    conn.execute(PURGE_CHECKS_SQL, {"asins": asins, "marketplace": marketplace})
    unique = sorted(set(asins))
    return [a for a in unique if a not in still_tracked], [a for a in unique if a in still_tracked]


# Takes the purged ASINs out of each batch's parallel arrays; a batch left empty goes.
PURGE_CHECKS_SQL = """
WITH gone AS (
    SELECT c.id, u.n
    FROM asin_checks c CROSS JOIN LATERAL unnest(c.asins) WITH ORDINALITY AS u(asin, n)
    WHERE c.asins && %(asins)s::text[] AND u.asin = ANY(%(asins)s)
      AND (%(marketplace)s::text IS NULL OR c.marketplace = %(marketplace)s)
      AND NOT (u.asin, c.marketplace) IN
          (SELECT asin, marketplace FROM tracked_asins WHERE active)
), kept AS (
    SELECT c.id, array_agg(u.asin ORDER BY u.n) AS asins,
           array_agg(u.main_rank ORDER BY u.n) AS main_ranks,
           array_agg(u.badges ORDER BY u.n) AS badge_counts
    FROM asin_checks c
    CROSS JOIN LATERAL unnest(c.asins, c.main_ranks, c.badge_counts) WITH ORDINALITY
        AS u(asin, main_rank, badges, n)
    WHERE c.id IN (SELECT id FROM gone) AND (c.id, u.n) NOT IN (SELECT id, n FROM gone)
    GROUP BY c.id
), emptied AS (
    DELETE FROM asin_checks
    WHERE id IN (SELECT id FROM gone) AND id NOT IN (SELECT id FROM kept)
)
UPDATE asin_checks c
SET asins = kept.asins, badge_counts = kept.badge_counts,
    main_ranks = CASE WHEN c.main_ranks IS NOT NULL THEN kept.main_ranks END
FROM kept WHERE c.id = kept.id
"""
