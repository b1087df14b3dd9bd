"""The pictures' cost: `bestseller report --html` over 90 days of compact history for 1,000
ASINs (time, file size, peak memory of the process), and one alert chart (query, SVG and
PNG: time and size). Not a test: figures for benchmarks/README.md, with the machine noted.

The history is written straight into a fresh embedded PostgreSQL, at the volumes
`benchmarks.storage` measures for a steady watch list with hourly passes
(docs/storage.md): every pass a check per ASIN (asin_checks, 100 per row, the main rank moving
every pass), 3 sub-category ranks per product each moving with probability 1 in 10 per pass
(rank_points), 1 % of the products holding #1; and each day #1 changing hands between two
tracked products in 5 categories (bestseller_changes), so the page has holder timelines.

    python -m benchmarks.pictures [--asins 1000] [--days 90] [--repeats 3]
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.rows import class_row

from benchmarks import database
from bestseller_cli.alerts.charts import alert_picture
from bestseller_cli.models import Change
from bestseller_cli.store.outbox_store import NAMES_JOIN, SELECT_CHANGE

MAIN = 1055398
BADGE_CATEGORIES = 300  # the sub-category of product i is 2000 + i % 300: 3-4 products each
RANK_MOVES = 0.1
FLIPS_PER_DAY = 5
RESULTS = Path(__file__).parent / "results" / "pictures.json"

STATE_SQL = """
INSERT INTO asin_current_state (asin, marketplace, available, title, main_category_id,
    main_rank, category_ranks, badges, first_seen_at, baseline_at, last_checked_at)
SELECT asin, 'com', true, 'Product ' || asin || ', a kitchen gadget with a long title', %(main)s,
       1000 + n * 7,
       jsonb_build_object(%(main)s::text, jsonb_build_object('name', 'Kitchen & Dining'),
                          (2000 + n %% %(cats)s)::text,
                          jsonb_build_object('name', 'Badge category ' || (n %% %(cats)s))),
       '{}', %(start)s, %(start)s, %(end)s
FROM unnest(%(asins)s::text[]) WITH ORDINALITY AS a(asin, n)
"""

CHECKS_SQL = """
INSERT INTO asin_checks (marketplace, observed_at, asins, main_ranks, badge_counts)
SELECT 'com', %(start)s + make_interval(hours => h, mins => 2), b.asins,
       ARRAY(SELECT greatest(2, m + (random() * 400)::int - 200) FROM unnest(b.mains) m),
       b.badges
FROM generate_series(0, %(hours)s - 1) AS h
CROSS JOIN (SELECT n / 100 AS batch, array_agg(asin ORDER BY n) AS asins,
                   array_agg(1000 + n * 7 ORDER BY n) AS mains,
                   array_agg((n %% 100 = 0)::int::smallint ORDER BY n) AS badges
            FROM unnest(%(asins)s::text[]) WITH ORDINALITY AS a(asin, n) GROUP BY 1) b
"""

# Three sub-categories per product: its badge category (#1 for 1 %, near the top for 1 in
# 10, else far) and two others; a point at the first check, then one per move.
POINTS_SQL = """
INSERT INTO rank_points (asin, marketplace, category_id, observed_at, rank)
SELECT a.asin, 'com', c.category, %(start)s + make_interval(hours => h, mins => 2),
       CASE WHEN c.k = 0 AND a.n %% 100 = 0 THEN 1
            WHEN c.k = 0 AND a.n %% 10 = 0 THEN 2 + (random() * 8)::int
            ELSE 20 + (random() * 4980)::int END
FROM unnest(%(asins)s::text[]) WITH ORDINALITY AS a(asin, n)
CROSS JOIN LATERAL (VALUES (0, 2000 + a.n %% %(cats)s), (1, 30000000 + a.n %% 5000),
                           (2, 30005000 + a.n %% 5000)) AS c(k, category)
CROSS JOIN generate_series(0, %(hours)s - 1) AS h
WHERE h = 0 OR (random() < %(moves)s AND NOT (c.k = 0 AND a.n %% 100 = 0))
"""


def fill(url: str, asins: list[str], *, days: int, end: datetime) -> dict[str, int]:
    start = end - timedelta(days=days)
    hours = days * 24
    params = {"asins": asins, "main": MAIN, "cats": BADGE_CATEGORIES, "hours": hours,
              "start": start, "end": end, "moves": RANK_MOVES}  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(STATE_SQL, params)
        conn.execute(CHECKS_SQL, params)
        conn.execute(POINTS_SQL, params)
        with conn.cursor().copy(
            "COPY bestseller_changes (asin, marketplace, category_id, category_name, kind,"
            " rank_before, rank_after, title, changed_at, detected_at) FROM STDIN"
        ) as copy:
            for day in range(days):
                for flip in range(FLIPS_PER_DAY):
                    category = (day * FLIPS_PER_DAY + flip) % BADGE_CATEGORIES
                    sharing = asins[category::BADGE_CATEGORIES]
                    loser, gainer = sharing[day % 2], sharing[(day + 1) % 2]
                    at = start + timedelta(days=day, hours=3 + flip * 4, minutes=2)
                    name = f"Badge category {category}"
                    for asin, kind, before, after in (
                        (loser, "lost", 1, 3),
                        (gainer, "gained", 2, 1),
                    ):
                        copy.write_row((asin, "com", 2000 + category, name, kind, before, after,
                                        f"Product {asin}", at, at))  # fmt: skip
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM asin_checks), (SELECT count(*) FROM rank_points),"
            " (SELECT count(*) FROM bestseller_changes), pg_database_size(current_database())"
        ).fetchone()
    assert counts is not None
    names = ("asin_checks_rows", "rank_points_rows", "changes_rows", "database_bytes")
    return dict(zip(names, map(int, counts), strict=True))


def report_run(url: str, out: Path, *, days: int) -> dict[str, float]:
    """One `bestseller report --html` in its own process: wall time, peak RSS, file size."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "text"}
    command = [sys.executable, "-m", "bestseller_cli", "report", "--since", f"{days}d",
               "--html", str(out)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(max(peak_kib, before) / 1024, 1),
            "bytes": out.stat().st_size}  # fmt: skip


def alert_chart_runs(url: str, *, repeats: int) -> dict[str, float]:
    """The chart under one alert: its history read, the SVG drawn and rendered to PNG."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor(row_factory=class_row(Change)) as cur:
            cur.execute(
                f"SELECT {SELECT_CHANGE} FROM bestseller_changes c {NAMES_JOIN}"
                " WHERE c.kind = 'gained' ORDER BY c.changed_at DESC LIMIT 1"
            )
            change = cur.fetchone()
        assert change is not None
        times, size = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            picture = alert_picture(conn, change, max_gap=timedelta(hours=2))
            times.append(time.perf_counter() - started)
            size = len(picture.png)
    return {"median_seconds": round(statistics.median(times), 3),
            "max_seconds": round(max(times), 3), "png_bytes": size}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asins", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.asins < 2 * BADGE_CATEGORIES:  # #1 changes hands between two products a category
        parser.error(f"--asins must be at least {2 * BADGE_CATEGORIES}")
    asins = [f"B0PIC{n:05d}" for n in range(args.asins)]
    postgres = database.Postgres.start()
    try:
        url = postgres.fresh_database("pictures")
        database.seed(url, asins)
        started = time.perf_counter()
        rows = fill(url, asins, days=args.days, end=datetime.now(UTC) - timedelta(minutes=5))
        fill_seconds = round(time.perf_counter() - started, 1)
        folder = Path(tempfile.mkdtemp(prefix="bestseller-bench-html-"))
        runs = [report_run(url, folder / f"report-{n}.html", days=args.days)
                for n in range(args.repeats)]  # fmt: skip
        chart = alert_chart_runs(url, repeats=10)
    finally:
        postgres.stop()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],  # shared machine
        "asins": args.asins,
        "days": args.days,
        "history": rows,
        "fill_seconds": fill_seconds,
        "report_html": runs,
        "report_html_median": {key: statistics.median(run[key] for run in runs) for key in runs[0]},
        "alert_chart": chart,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
