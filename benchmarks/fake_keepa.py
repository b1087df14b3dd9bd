"""The benchmark's Keepa: the shared FakeKeepa (served by fakes.keepa_server.serve, which clocks
the time Keepa itself spends answering, so it can be subtracted) with a large world, 30-day
histories (trimmed to the `days` asked for, as Keepa does) and rank churn.

Products are built by fakes/keepa_payloads.py (Keepa's JSON format); this module only
deepens their histories to what a `days=30` request returns and pads `csv` to Keepa's
length, one entry per CsvType, as Product.java and the `keepa` package expect.
"""

import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fakes.keepa_payloads import trim_to_days
from fakes.keepa_server import FakeKeepa

CSV_LENGTH = 36  # keepa.constants.csv_indices: 0 AMAZON ... 35 COUNT_NEW_FBM
MAIN_CATEGORY = 172282  # Electronics: the main (salesRankReference) rank, never #1 here
FIRST_SUBCATEGORY = 20_000_000  # sub-category ids FIRST, FIRST + 1, ...
HISTORY_MINUTES = 30 * 24 * 60  # what KEEPA_HISTORY_DAYS=30 asks for
# csv index -> value when the builder left it empty: AMAZON, NEW, COUNT_NEW, COUNT_REVIEWS
OTHER_SERIES = {0: 1999, 1: 1999, 11: 12, 17: 1234}
MARKETPLACE = "com"


@dataclass(frozen=True)
class Churn:
    gained: int
    lost: int

    @property
    def changed(self) -> int:
        return self.gained + self.lost


@dataclass
class BenchKeepa(FakeKeepa):
    """FakeKeepa whose world is {(marketplace, asin): {category: current rank}}; histories
    are generated per answer, so a 100k world costs ints, not lists."""

    history_points: int = 200
    gzip_level: int = 1
    tokens_left: int = 10**9
    members: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # by category
    flipped: set[int] = field(default_factory=set)  # categories churned since populate

    def populate(self, count: int, *, holders: float, seed: int) -> list[str]:
        """`count` ASINs, each with a main rank and a rank in one sub-category shared with
        about 1/`holders` others; exactly one ASIN per sub-category holds #1 there, as on
        Amazon, so `holders` of the ASINs hold a badge."""
        rng = random.Random(seed)
        asins = [f"B{index:09d}" for index in range(count)]
        per_category = max(2, round(1 / holders))
        with self.lock:
            self.world.clear()
            self.members.clear()
            self.flipped.clear()
            for start in range(0, count, per_category):
                category = FIRST_SUBCATEGORY + start // per_category
                keys = [(MARKETPLACE, asin) for asin in asins[start : start + per_category]]
                self.members[category] = keys
                ranks = rng.sample(range(2, 5000), len(keys))
                ranks[rng.randrange(len(keys))] = 1
                for key, rank in zip(keys, ranks, strict=True):
                    main_rank = rng.randint(2, 500_000)
                    self.world[key] = {MAIN_CATEGORY: main_rank, category: rank}
        return asins

    def churn(self, fraction: float, *, seed: int) -> Churn:
        """In enough sub-categories to touch `fraction` of the ASINs, the holder drops to
        #2..#50 and another tracked ASIN takes #1: one loss and one gain per category. A
        category churned before is left alone, so a repeated churn meets no recent alert."""
        rng = random.Random(seed)
        with self.lock:
            flips = round(len(self.world) * fraction / 2)
            fresh = sorted(set(self.members) - self.flipped)
            flipped = rng.sample(fresh, min(flips, len(fresh)))
            self.flipped.update(flipped)
            for category in flipped:
                keys = self.members[category]
                holder = next(key for key in keys if self.world[key][category] == 1)
                taker = rng.choice([key for key in keys if key != holder])
                self.world[holder][category] = rng.randint(2, 50)
                self.world[taker][category] = 1
                for key in (holder, taker):
                    ranks = self.world[key]
                    ranks[MAIN_CATEGORY] = max(2, ranks[MAIN_CATEGORY] + rng.randint(-500, 500))
        return Churn(gained=len(flipped), lost=len(flipped))

    def reset_counters(self) -> None:
        with self.lock:
            self.requests.clear()
            self.products_served = 0
            self.handler_seconds = 0.0

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        status, body = super().answer(path, query)
        now = datetime.now(UTC)
        products = body.get("products") or []
        for index, raw in enumerate(products):
            if raw.get("salesRanks"):
                self._deepen(raw)
                if "days" in query:  # as Keepa trims: the last point before the window stays
                    products[index] = trim_to_days(raw, int(query["days"][0]), now=now)
        return status, body

    def _deepen(self, raw: dict[str, Any]) -> None:
        """Turn one-point series into `history_points`-point ones ending at the current value."""
        now, points = raw["lastUpdate"], self.history_points
        step = HISTORY_MINUTES // points
        for category, flat in raw["salesRanks"].items():
            raw["salesRanks"][category] = _history(now, step, points, flat[-1], spread=50)
        csv = raw["csv"] + [None] * (CSV_LENGTH - len(raw["csv"]))
        csv[3] = raw["salesRanks"].get(str(raw["salesRankReference"]))
        for index, default in OTHER_SERIES.items():
            current = _current(csv[index]) or default
            csv[index] = _history(now, step * 4, max(1, points // 4), current, spread=300)
        raw["csv"] = csv


def _current(series: list[int] | None) -> int | None:
    return series[-1] if series else None


def _history(now: int, step: int, points: int, current: int, *, spread: int) -> list[int]:
    """[keepaMinute, value, ...] oldest first; deterministic wobble, never #1 before now."""
    flat: list[int] = []
    for back in range(points - 1, 0, -1):
        flat += (now - back * step, max(2, current + (back * 7919) % (2 * spread) - spread))
    flat += (now, current)
    return flat


def sample_response(fake: BenchKeepa, asins: list[str]) -> bytes:
    """The gzip body the fake serves for one product request, as it goes on the wire."""
    _, body = fake.answer("/product", {"domain": ["1"], "asin": [",".join(asins)]})
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), fake.gzip_level)
