"""A year of hourly history for the benchmark's "aged database" row: what a deployment has
written after 8,760 hourly passes over the same watch list (issue 15's compact layout,
`bestseller prune` never run), so a pass on it can be compared with one on a fresh database.

Per hour, ending three hours before now (outside every re-notify and story window, so the
measured pass decides exactly as on a fresh database), at the volumes benchmarks.storage
measures for a steady watch list:

- one check_runs row, and its Keepa calls in api_usage_log (one per 100 ASINs);
- asin_checks: one row per batch of 100 ASINs (ASINs, main ranks moving every pass, badges);
- rank_points: each product ranks in its sub-category and two more, and each of those ranks
  moves with probability 1 in 10 per pass (a point per move, the first check's too);
- asin_details: a point at the first check, then about one a day (a new price);
- in `churn` of the ASINs a badge changes hands (a loss and a gain in bestseller_changes,
  with their rank points), each announced by an alert `sent` to Slack in notification_log.
"""

import random
from datetime import datetime
from typing import Any

import psycopg

from benchmarks.fake_keepa import MAIN_CATEGORY, BenchKeepa

HOURS = 365 * 24
CHANNEL = "C0BENCH"
BATCH = 100  # ASINs per Keepa request and per asin_checks row
RANK_MOVES = 0.1  # chance that a sub-category rank moves in a pass
DETAIL_MOVES = 1 / 24  # chance that price, offers or reviews change in a pass
OTHER_CATEGORIES = 30_000_000  # ids of the two sub-categories no badge moves in
MONTH = 24 * 30  # hours per statement

RUNS_SQL = """
INSERT INTO check_runs (started_at, finished_at, status)
SELECT now() - make_interval(hours => h + 3), now() - make_interval(hours => h + 3)
       + interval '1 minute', 'completed'
FROM generate_series(%(hours)s, 1, -1) AS h
RETURNING id, started_at
"""

# bench_members: one row per product (asin, category: its badge sub-category, rank there,
# main rank, batch: its Keepa request); bench_ranks: its three sub-category series.
SETUP_SQL = """
CREATE TEMPORARY TABLE bench_members (
    asin text, category bigint, rank int, main_rank int, batch int);
CREATE TEMPORARY TABLE bench_ranks (asin text, category bigint, rank int);
"""

RANKS_SQL = """
INSERT INTO bench_ranks
SELECT asin, category, rank FROM bench_members
UNION ALL
SELECT m.asin, %(other)s + (m.batch * 2 + k) %% 5000, 1000 + (hashtext(m.asin) & 4095)
FROM bench_members m CROSS JOIN generate_series(0, 1) AS k
"""

CHECKS_SQL = """
INSERT INTO asin_checks (run_id, marketplace, observed_at, asins, main_ranks, badge_counts)
SELECT r.id, 'com', r.started_at, b.asins,
       ARRAY(SELECT greatest(2, m + (random() * 2000)::int - 1000) FROM unnest(b.main_ranks) m),
       b.badge_counts
FROM check_runs r
CROSS JOIN (SELECT batch, array_agg(asin ORDER BY asin) AS asins,
                   array_agg(main_rank ORDER BY asin) AS main_ranks,
                   array_agg((rank = 1)::int::smallint ORDER BY asin) AS badge_counts
            FROM bench_members GROUP BY batch) b
WHERE r.id BETWEEN %(first)s AND %(last)s
"""

# A point where a rank moves (the changes' points are already in: they win the conflict);
# every series starts with a point at the first check.
POINTS_SQL = """
INSERT INTO rank_points (asin, marketplace, category_id, observed_at, rank)
SELECT s.asin, 'com', s.category, r.started_at,
       CASE WHEN r.id = %(start)s THEN s.rank ELSE 2 + (random() * 4998)::int END
FROM check_runs r CROSS JOIN bench_ranks s
WHERE r.id BETWEEN %(first)s AND %(last)s
  AND (r.id = %(start)s OR (s.rank <> 1 AND random() < %(moves)s))
ON CONFLICT DO NOTHING
"""

DETAILS_SQL = """
INSERT INTO asin_details (asin, marketplace, observed_at, available, title, main_category_id,
    price_cents, rating, review_count)
SELECT m.asin, 'com', r.started_at, true, 'Product ' || m.asin, %(main)s,
       999 + (random() * 9000)::int, 4.5, 1000 + (r.id - %(start)s)::int / 24
FROM check_runs r CROSS JOIN bench_members m
WHERE r.id BETWEEN %(first)s AND %(last)s AND (r.id = %(start)s OR random() < %(moves)s)
"""

USAGE_SQL = """
INSERT INTO api_usage_log (called_at, run_id, endpoint, marketplace, asin_count, http_status,
    tokens_consumed, tokens_left, refill_in_ms, refill_rate, duration_ms, estimated_cost_usd)
SELECT r.started_at, r.id, 'product', 'com', b.n, 200, b.n, 100000, 60000, 1000, 1500,
       b.n * 0.0001
FROM check_runs r
CROSS JOIN (SELECT batch, count(*)::int AS n FROM bench_members GROUP BY batch) b
WHERE r.id BETWEEN %(first)s AND %(last)s
"""

ALERTS_SQL = """
INSERT INTO notification_log (change_id, status, deliver_after, attempts, claimed_at, sent_at,
    slack_channel, slack_ts, created_at, delivery_mode, renotify_window_minutes)
SELECT c.id, 'sent', c.detected_at, 1, c.detected_at, c.detected_at + interval '1 second',
       %(channel)s, ((extract(epoch FROM c.detected_at) + 1)::numeric(20, 6))::text,
       c.detected_at, 'instant', 120
FROM bestseller_changes c
"""

TABLES = (
    "check_runs",
    "asin_checks",
    "rank_points",
    "asin_details",
    "bestseller_changes",
    "notification_log",
    "api_usage_log",
)


def prefill_year(url: str, fake: BenchKeepa, *, churn: float, seed: int) -> dict[str, Any]:
    """Fill the database at `url` (tracked ASINs seeded, no pass run yet) from `fake`'s world.
    Returns the rows per table and the database's size."""
    rng = random.Random(seed)
    members = sorted(
        (asin, category, fake.world[key][category], fake.world[key][MAIN_CATEGORY])
        for category, keys in fake.members.items()
        for key in keys
        for asin in [key[1]]
    )
    with psycopg.connect(url, autocommit=True) as conn:
        runs = conn.execute(RUNS_SQL, {"hours": HOURS}).fetchall()
        conn.execute(SETUP_SQL)
        with conn.cursor().copy("COPY bench_members FROM STDIN") as copy:
            for index, member in enumerate(members):
                copy.write_row((*member, index // BATCH))
        conn.execute(RANKS_SQL, {"other": OTHER_CATEGORIES})
        _changes(conn, fake, runs, rng=rng, churn=churn)
        start = runs[0][0]
        for first in range(0, len(runs), MONTH):
            span = {"first": runs[first][0], "last": runs[min(first + MONTH, len(runs)) - 1][0]}
            params = {**span, "start": start, "main": MAIN_CATEGORY}
            conn.execute(CHECKS_SQL, span)
            conn.execute(POINTS_SQL, {**params, "moves": RANK_MOVES})
            conn.execute(DETAILS_SQL, {**params, "moves": DETAIL_MOVES})
            conn.execute(USAGE_SQL, span)
        conn.execute(ALERTS_SQL, {"channel": CHANNEL})
        conn.execute("DROP TABLE bench_members, bench_ranks")
        conn.execute("VACUUM ANALYZE")
        counted = ", ".join(f"(SELECT count(*) FROM {table})" for table in TABLES)
        row = conn.execute(f"SELECT {counted}, pg_database_size(current_database())").fetchone()
    assert row is not None
    return dict(zip((*TABLES, "database_bytes"), (int(value) for value in row), strict=True))


def _changes(
    conn: psycopg.Connection,
    fake: BenchKeepa,
    runs: list[tuple[int, datetime]],
    *,
    rng: random.Random,
    churn: float,
) -> None:
    """Each hour, in sub-categories covering `churn` of the ASINs, #1 changes hands: a loss
    and a gain in bestseller_changes, and the two ranks' points."""
    categories = sorted(fake.members)
    flips = max(1, round(len(fake.world) * churn / 2))
    changes, points = [], []
    for run_id, started_at in runs:
        for category in rng.sample(categories, min(flips, len(categories))):
            loser, gainer = rng.sample([asin for _, asin in fake.members[category]], 2)
            for asin, kind, before, after in (
                (loser, "lost", 1, rng.randint(2, 50)),
                (gainer, "gained", rng.randint(2, 50), 1),
            ):
                title = f"Product {asin}"
                changes.append(
                    (asin, "com", category, kind, before, after, title, started_at, run_id)
                )
                points.append((asin, "com", category, started_at, after))
    with conn.cursor().copy(
        "COPY bestseller_changes (asin, marketplace, category_id, kind, rank_before,"
        " rank_after, title, detected_at, run_id) FROM STDIN"
    ) as copy:
        for row in changes:
            copy.write_row(row)
    with conn.cursor().copy(
        "COPY rank_points (asin, marketplace, category_id, observed_at, rank) FROM STDIN"
    ) as copy:
        for row in points:
            copy.write_row(row)
