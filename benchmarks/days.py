"""Which `days` to ask Keepa for: the smallest window that keeps every current value.

`days=N` trims every history to the last N x 24 h, keeping the last point before the
window ("unchanged since"), at no token cost (Keepa's docs; `fakes/keepa_payloads.trim_to_days`
does exactly that). This builds one 100-product response with multi-year histories shaped
like real ones (a main rank changing every ~6 h for 3 years, 6 sub-category ranks about
daily, some unchanged for months, daily price and offer series), trims it to each candidate
window, and measures for each: JSON and gzip bytes, the time and peak memory of decoding
and parsing it with `bestseller_cli.keepa.payload.parse_product`, and whether every current value
(ranks, main rank, price, rating, reviews, rank-change time) equals the untrimmed one.

    python -m benchmarks.days [--products 100] [--years 3]

What it cannot show: Keepa's own server time for a trimmed answer, and real responses
(no live Keepa here); the trimming follows Keepa's documented rule.
"""

import argparse
import gc
import gzip
import json
import platform
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from bestseller_cli.keepa.payload import parse_product
from fakes.keepa_payloads import keepa_minute, product, trim_to_days

WINDOWS: list[int | None] = [None, 90, 30, 7, 2, 1]  # None: no `days`, full history
MAIN, SUBCATEGORIES = 172282, [20_000_000 + n for n in range(6)]


def series(rng: random.Random, *, start: int, end: int, step: int, low: int, high: int) -> list:
    """[keepaMinute, value, ...] from `start` to `end`, a point every ~`step` minutes."""
    flat: list[int] = []
    minute = start
    while minute < end:
        flat += [minute, rng.randint(low, high)]
        minute += rng.randint(step // 2, step * 3 // 2)
    return flat


def response(count: int, *, years: int, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """`count` products with `years` of history; some sub-categories unchanged for months."""
    rng = random.Random(seed)
    end, start = keepa_minute(now), keepa_minute(now - timedelta(days=365 * years))
    products = []
    for index in range(count):
        raw = product(f"B{index:09d}", {MAIN: 5000, **dict.fromkeys(SUBCATEGORIES, 50)}, now=now)
        raw["salesRanks"] = {
            str(MAIN): series(rng, start=start, end=end, step=360, low=2, high=90_000)
        }
        for offset, category in enumerate(SUBCATEGORIES):
            # every third sub-category stopped changing months ago: its last point is old
            stop = end - (120 * 1440 if offset % 3 == 0 else 0)
            raw["salesRanks"][str(category)] = series(
                rng, start=start, end=stop, step=1440, low=1, high=400
            )
        for csv_index, (low, high) in {0: (999, 2999), 1: (999, 2999), 11: (1, 40)}.items():
            raw["csv"][csv_index] = series(rng, start=start, end=end, step=1440, low=low, high=high)
        raw["csv"][3] = raw["salesRanks"][str(MAIN)]
        products.append(raw)
    return products


def current_values(raw: dict[str, Any]) -> tuple:
    snapshot = parse_product(raw, marketplace="com")
    ranks = tuple(sorted((c, e.rank) for c, e in snapshot.category_ranks.items()))
    return (
        ranks,
        snapshot.main_rank,
        snapshot.price_cents,
        snapshot.rating,
        snapshot.review_count,
        snapshot.ranks_changed_at,
    )


def measure(body: bytes) -> tuple[float, float]:
    """Seconds and peak MiB to decode and parse one response body."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    for raw in json.loads(body)["products"]:
        parse_product(raw, marketplace="com")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def run(count: int, years: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    full = response(count, years=years, now=now)
    expected = [current_values(raw) for raw in full]
    rows = []
    for days in WINDOWS:
        trimmed = full if days is None else [trim_to_days(raw, days, now=now) for raw in full]
        body = json.dumps({"products": trimmed}, separators=(",", ":")).encode()
        seconds, peak = min((measure(body) for _ in range(3)), key=lambda pair: pair[0])
        kept = sum(current_values(raw) == want for raw, want in zip(trimmed, expected, strict=True))
        rows.append(
            {
                "days": days or "all",
                "json_kib": round(len(body) / 1024, 1),
                "gzip_kib": round(len(gzip.compress(body, 6)) / 1024, 1),
                "parse_ms": round(seconds * 1000, 1),
                "peak_mib": round(peak, 2),
                "current_values_kept": f"{kept}/{count}",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--years", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.products, args.years)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()};")
    print(f"one response of {args.products} products, {args.years} years of history\n")
    print("| days | JSON KiB | gzip KiB | decode+parse ms | peak MiB | current values kept |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        print("| " + " | ".join(str(value) for value in row.values()) + " |")


if __name__ == "__main__":
    main()
