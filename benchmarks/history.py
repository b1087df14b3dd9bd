"""A year of hourly history for the benchmark's "aged database" row: what a deployment has
written after 8,760 hourly passes over the same watch list, so a pass on it can be compared
with one on a fresh database.

Per hour, ending three hours before now (outside every re-notify and story window, so the
measured pass decides exactly as on a fresh database): one check_runs row, one asin_history
row per ASIN (its sub-category rank; the holder of each sub-category has the badge), and in
`churn` of the ASINs a badge changing hands (a loss and a gain, as the pass would record
them), each with an alert sent to Slack.

The history rows are in asin_history's wide layout, as a deployment upgraded from before
issue 15 holds them until `bestseller prune` converts them; the story reads them alongside
rank_points. A year in the compact layout is benchmarks/storage.py's subject.
"""

import random
from typing import Any

import psycopg

from benchmarks.fake_keepa import MAIN_CATEGORY, BenchKeepa

HOURS = 365 * 24
CHANNEL = "C0BENCH"

RUNS_SQL = """
INSERT INTO check_runs (started_at, finished_at, status)
SELECT now() - make_interval(hours => h + 3), now() - make_interval(hours => h + 3)
       + interval '1 minute', 'completed'
FROM generate_series(%(hours)s, 1, -1) AS h
RETURNING id, started_at
"""

HISTORY_SQL = """
INSERT INTO asin_history (asin, marketplace, observed_at, run_id, available, title,
    main_category_id, main_rank, category_ranks, badge_category_ids)
SELECT m.asin, 'com', r.started_at, r.id, true, 'Product ' || m.asin, %(main)s,
       m.main_rank, jsonb_build_object(m.category::text,
           jsonb_build_object('name', NULL, 'rank', m.rank)),
       CASE WHEN m.rank = 1 THEN ARRAY[m.category] ELSE '{}' END
FROM check_runs r CROSS JOIN bench_members m
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


def prefill_year(url: str, fake: BenchKeepa, *, churn: float, seed: int) -> dict[str, Any]:
    """Fill the database at `url` (tracked ASINs seeded, no pass run yet) from `fake`'s world."""
    rng = random.Random(seed)
    members = [
        (asin, category, ranks[category], ranks[MAIN_CATEGORY])
        for category, keys in fake.members.items()
        for (_, asin) in keys
        for ranks in [fake.world[("com", asin)]]
    ]
    categories = sorted(fake.members)
    flips = max(1, round(len(members) * churn / 2))
    with psycopg.connect(url, autocommit=True) as conn:
        runs = conn.execute(RUNS_SQL, {"hours": HOURS}).fetchall()
        conn.execute(
            "CREATE TABLE bench_members (asin text, category bigint, rank int, main_rank int)"
        )
        with conn.cursor().copy("COPY bench_members FROM STDIN") as copy:
            for row in members:
                copy.write_row(row)
        for start in range(0, len(runs), 24 * 30):  # a month per statement
            month = runs[start : start + 24 * 30]
            conn.execute(
                HISTORY_SQL, {"main": MAIN_CATEGORY, "first": month[0][0], "last": month[-1][0]}
            )
        conn.execute("DROP TABLE bench_members")
        with conn.cursor().copy(
            "COPY bestseller_changes (asin, marketplace, category_id, kind, rank_before,"
            " rank_after, title, detected_at, run_id) FROM STDIN"
        ) as copy:
            for run_id, started_at in runs:
                for category in rng.sample(categories, min(flips, len(categories))):
                    loser, gainer = rng.sample([asin for _, asin in fake.members[category]], 2)
                    for asin, kind, before, after in (
                        (loser, "lost", 1, rng.randint(2, 50)),
                        (gainer, "gained", rng.randint(2, 50), 1),
                    ):
                        copy.write_row(
                            (
                                asin,
                                "com",
                                category,
                                kind,
                                before,
                                after,
                                f"Product {asin}",
                                started_at,
                                run_id,
                            )
                        )
        conn.execute(ALERTS_SQL, {"channel": CHANNEL})
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM asin_history), (SELECT count(*) FROM"
            " bestseller_changes), (SELECT count(*) FROM notification_log),"
            " pg_database_size(current_database())"
        ).fetchone()
    assert counts is not None
    names = ("asin_history", "bestseller_changes", "notification_log", "database_bytes")
    return dict(zip(names, (int(value) for value in counts), strict=True))
