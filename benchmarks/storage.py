"""Database growth per ASIN per day at steady state: `python -m benchmarks.storage --sizes
1000,10000` (see README.md, "Storage").

The movement of issue 15: every ASIN has 4 ranked categories (its main one and 3
sub-categories, names in categoryTree); the main rank moves every pass, each sub-category
rank moves with probability 1 in 10, and about 1 % of the ASINs hold #1 in a sub-category
(and keep it). Hourly passes (`run_check` with its clock moved an hour each time) against the
fake Keepa over real HTTP; a plain VACUUM after each pass stands for autovacuum in the hour
between passes (dead row versions are space reused, not growth; `--no-vacuum` counts them).
After a baseline and `--warmup` passes, growth is measured over `--passes` passes: the sum
of pg_total_relation_size (table + indexes + TOAST; WAL is not counted) of every table.

Self-contained: it only needs `bestseller_cli.check.run.run_check`, so the same file measures
an older checkout too (the "before" figures).
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import database
from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from fakes.keepa_server import FakeKeepa, serve

MAIN_CATEGORY = 172282
FIRST_SUBCATEGORY = 30_000_000
SUBCATEGORIES = 500
HOLDERS = 0.01
SUB_MOVES = 0.1
KEEPA_KEY = "bench" + "0" * 59
NAMES = [
    "Headphone Accessories",
    "Over-Ear Headphones",
    "Portable Bluetooth Speakers",
    "Kitchen Utensils & Gadgets",
    "Garlic Presses",
    "Computer Keyboard & Mouse Combos",
]


class MovingWorld:
    """The fake Keepa's world, moved between passes as the issue's model says."""

    def __init__(self, fake: FakeKeepa, count: int, *, seed: int) -> None:
        self.fake = fake
        self.rng = random.Random(seed)
        self.asins = [f"B{index:09d}" for index in range(count)]
        holders = set(self.rng.sample(self.asins, max(1, round(count * HOLDERS))))
        with fake.lock:
            fake.world.clear()
            for asin in self.asins:
                subs = self.rng.sample(range(SUBCATEGORIES), 3)
                ranks = {MAIN_CATEGORY: self.rng.randint(2, 500_000)}
                for index, sub in enumerate(subs):
                    held = index == 0 and asin in holders
                    ranks[FIRST_SUBCATEGORY + sub] = 1 if held else self.rng.randint(2, 5000)
                fake.world[("com", asin)] = ranks

    def move(self) -> None:
        with self.fake.lock:
            for ranks in self.fake.world.values():
                for category, rank in ranks.items():
                    if category == MAIN_CATEGORY:
                        ranks[category] = max(2, rank + self.rng.randint(-500, 500))
                    elif rank != 1 and self.rng.random() < SUB_MOVES:
                        ranks[category] = max(2, rank + self.rng.randint(-50, 50))


def category_names() -> None:
    """Realistic names for the fake's categoryTree (the fake payloads say "Category <id>")."""
    from fakes import keepa_payloads

    for sub in range(SUBCATEGORIES):
        name = f"{NAMES[sub % len(NAMES)]} {sub}"
        keepa_payloads.CATEGORY_NAMES.setdefault(FIRST_SUBCATEGORY + sub, name)


def table_sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'bestseller' AND c.relkind = 'r' ORDER BY c.relname"
        ).fetchall()
    return {name: int(size) for name, size in rows}


def vacuum(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM")


def measure(size: int, args: argparse.Namespace, *, pg: database.Postgres) -> dict[str, Any]:
    name = f"bench_storage_{size}"
    url = pg.fresh_database(name)
    fake = FakeKeepa(tokens_left=10**9, gzip_level=1)
    server = serve(fake)
    try:
        world = MovingWorld(fake, size, seed=args.seed)
        database.seed(url, world.asins)
        settings = load_settings(
            database_url=url,
            keepa_api_key=KEEPA_KEY,
            keepa_api_url=fake.url,
            retry_delay_seconds=0,
            slack_bot_token=None,
            bestseller_home=Path(args.home),
        )
        clock = datetime(2026, 5, 4, 0, 5, tzinfo=UTC)
        started = time.monotonic()
        before: dict[str, int] = {}
        for index in range(1 + args.warmup + args.passes):
            if index == 1 + args.warmup:
                before = table_sizes(url)
            when = clock + timedelta(hours=index)
            summary = run_check(
                settings, options=PassOptions(everything=True), clock=lambda when=when: when
            )
            assert summary.checked == size, summary
            if args.vacuum:
                vacuum(url)
            world.move()
            print(f"  {size:,} ASINs: pass {index + 1} done", file=sys.stderr, flush=True)
        after = table_sizes(url)
        pruned = pruned_day(url, size, now=clock + timedelta(days=1, hours=1))
    finally:
        server.shutdown()
        server.server_close()
        pg.drop_database(name)
    growth = {table: after.get(table, 0) - before.get(table, 0) for table in after}
    per_day = 24 / args.passes / size
    return {
        "asins": size,
        "passes_measured": args.passes,
        "bytes_per_asin_per_day": round(sum(growth.values()) * per_day),
        "by_table": {
            table: round(grown * per_day) for table, grown in sorted(growth.items()) if grown
        },
        "pruned_day_bytes_per_asin": pruned,
        "seconds": round(time.monotonic() - started, 1),
    }


def pruned_day(url: str, size: int, *, now: datetime) -> int | None:
    """What one day of checks costs once `bestseller prune` made it spans (None in a version
    without prune): check_spans' size per ASIN after pruning that day."""
    try:
        from bestseller_cli.maintenance.retention import prune
    except ImportError:
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        prune(conn, retention_days=0, now=now)
    return round(table_sizes(url)["check_spans"] / size)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--warmup", type=int, default=2, help="passes after the baseline")
    parser.add_argument("--passes", type=int, default=8, help="passes measured")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--no-vacuum",
        dest="vacuum",
        action="store_false",
        help="no VACUUM between passes: dead row versions count as growth",
    )
    parser.add_argument("--label", default="", help="e.g. before/after, kept in the output")
    parser.add_argument("--output", default="", help="write the results as JSON here")
    parser.add_argument("--home", default="/tmp/bestseller-bench-home")
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",")]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    category_names()
    pg = database.Postgres.start()
    try:
        results = {
            "label": args.label,
            "vacuum_between_passes": args.vacuum,
            "postgres": pg.version(),
            "sizes": [measure(size, args, pg=pg) for size in args.sizes],
        }
    finally:
        pg.stop()
    text = json.dumps(results, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
