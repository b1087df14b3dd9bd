"""Real rank histories as an agency's watch list, for the replay (benchmarks/replay.py).

Each real series (`../shared/data/keepa-real/`, `../shared/data/rank-histories/`, read
from there, never copied) is a `Base`; a `Product` replays one from a start of its own, so
that one series makes several products. Keepa's answer for a product at a minute is its
series up to then, trimmed to `days` as Keepa does (the last point before the window kept).
"""

import bisect
import csv
import gzip
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bestseller_cli.keepa.payload import keepa_time
from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import CategoryRank, ProductSnapshot
from bestseller_cli.rules.schedule import Cadence
from fakes.keepa_payloads import keepa_minute

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
START = datetime(2026, 11, 2, tzinfo=UTC)  # the replay's day 0, a Monday
DAY, WEEK = 1440, 7 * 1440
CADENCE = Cadence(run_minutes=15, ceiling_hours=24, near_rank=3)
BATCH = 100
NEAR = 10  # a product is near #1 when it ranked this high in the week before the replay


@dataclass
class Base:
    """One real product: its categories' rank series in Keepa minutes, and the main one."""

    name: str
    series: dict[int, tuple[list[int], list[int | None]]]
    main: int | None

    @property
    def span(self) -> tuple[int, int]:
        return (
            min(t[0] for t, _ in self.series.values()),
            max(t[-1] for t, _ in self.series.values()),
        )


def unzipped(path: Path) -> bytes:
    with gzip.open(path) as file:
        return file.read()


def flat_series(flat: list[int]) -> tuple[list[int], list[int | None]]:
    times, ranks = flat[0::2], [rank if rank > 0 else None for rank in flat[1::2]]
    order = sorted(range(len(times)), key=times.__getitem__)
    return [times[i] for i in order], [ranks[i] for i in order]


def keepa_bases() -> list[Base]:
    """The recorded Keepa answers with rank series, one per product (the latest snapshot)."""
    recorded = json.loads(unzipped(DATA / "keepa-real" / "products.json.gz"))
    products: dict[str, dict] = {}
    for snapshot in recorded["snapshots"]:
        raw = snapshot["product"]
        for product in raw.get("products", [raw]):
            ranks = {k: v for k, v in (product.get("salesRanks") or {}).items() if v}
            if ranks and len(products.get(product["asin"], {}).get("salesRanks") or {}) <= len(
                ranks
            ):
                products[product["asin"]] = {**product, "salesRanks": ranks}
    bases = []
    for asin, product in sorted(products.items()):
        series = {int(k): flat_series(v) for k, v in product["salesRanks"].items()}
        main = product.get("salesRankReference")
        bases.append(Base(asin, series, main if main in series else None))
    big = json.loads(
        unzipped(DATA / "rank-histories" / "united-compute_B08HR6ZBYJ_raw_response.json.gz")
    )
    for product in big["products"]:
        series = {int(k): flat_series(v) for k, v in product["salesRanks"].items() if v}
        bases.append(Base(product["asin"], series, None))
    return bases


def csv_bases() -> list[Base]:
    """The PS5's main rank (Keepa's CSV export, amazon.de) and the KDP books' sub-category
    ranks (an hourly scrape)."""
    rows = csv.reader(
        io.StringIO(
            unzipped(DATA / "rank-histories" / "blackincolor_ps5_de_keepa_bsr.csv.gz").decode()
        )
    )
    next(rows)
    times, ranks = [], []
    for stamp, rank, *_ in rows:
        if rank:
            times.append(
                keepa_minute(datetime.strptime(stamp, "%d.%m.%Y, %H:%M:%S").replace(tzinfo=UTC))
            )
            ranks.append(int(rank))
    bases = [Base("B08H93ZRK9", {1: (times, ranks)}, 1)]
    kdp: dict[tuple[str, str], list[tuple[int, int]]] = {}
    text = unzipped(DATA / "rank-histories" / "minoh79_kdp_bsr_data.csv.gz").decode()
    for row in csv.DictReader(io.StringIO(text)):
        if row["category_rank"]:
            at = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
            kdp.setdefault((row["asin"], row["category"]), []).append(
                (keepa_minute(at), int(row["category_rank"]))
            )
    for (asin, _), points in sorted(kdp.items()):
        points.sort()
        bases.append(Base(asin, {2: ([t for t, _ in points], [r for _, r in points])}, None))
    return bases


def kindle_bases(count: int) -> list[Base]:
    """The ASINs that held #1 of the amazon.co.jp Kindle top 10 most often, a point per daily
    snapshot: its rank there, 11 standing for "not in the top 10"."""
    listing = json.loads(
        unzipped(DATA / "rank-histories" / "naoto714714_kindle_jp_top10_daily.json.gz")
    )
    snapshots = sorted(listing["snapshots"], key=lambda s: s["timestamp"])
    held: dict[str, int] = {}
    for snapshot in snapshots:
        for entry in snapshot["rankings"]:
            if entry["rank"] == 1:
                asin = entry["url"].rsplit("/", 1)[-1]
                held[asin] = held.get(asin, 0) + 1
    bases = []
    for asin in sorted(held, key=lambda a: (-held[a], a))[:count]:
        times, ranks = [], []
        for snapshot in snapshots:
            at = datetime.fromisoformat(snapshot["timestamp"]).replace(tzinfo=UTC)
            rank = next((e["rank"] for e in snapshot["rankings"] if e["url"].endswith(asin)), 11)
            times.append(keepa_minute(at))
            ranks.append(rank)
        bases.append(Base(asin, {3: (times, ranks)}, None))
    return bases


@dataclass
class Product:
    """A base replayed so that its minute `origin` is the replay's day 0."""

    asin: str
    base: Base
    origin: int
    shift: int = 0

    def __post_init__(self) -> None:
        self.shift = keepa_minute(START) - self.origin

    def rank_at(self, category: int, minute: int) -> int | None:
        times, ranks = self.base.series[category]
        index = bisect.bisect_right(times, minute - self.shift) - 1
        return ranks[index] if index >= 0 else None

    def best_before(self) -> int | None:
        """Its best rank in any category in the week before day 0."""
        start = keepa_minute(START)
        ranks = []
        for category, (times, values) in self.base.series.items():
            low = bisect.bisect_right(times, start - WEEK - self.shift)
            high = bisect.bisect_right(times, start - self.shift)
            ranks += [r for r in values[low:high] if r] + [self.rank_at(category, start - WEEK)]
        return min((r for r in ranks if r), default=None)

    def snapshot(self, minute: int, days: int, *, with_series: bool) -> ProductSnapshot:
        """What Keepa answers at `minute` for `days`: each series up to now, trimmed."""
        ranks: dict[int, CategoryRank] = {}
        series: dict[int, list] = {}
        for category, (times, values) in self.base.series.items():
            high = bisect.bisect_right(times, minute - self.shift)
            if high == 0:
                continue  # not ranked there yet: Keepa sends no series
            low = max(bisect.bisect_left(times, minute - days * DAY - self.shift) - 1, 0)
            points = [
                (keepa_time(t + self.shift), values[i]) for i, t in enumerate(times[low:high], low)
            ]
            ranks[category] = CategoryRank(category_id=category, rank=points[-1][1])
            series[category] = points
        newest = max((points[-1][0] for points in series.values()), default=None)
        main = self.base.main or next(iter(ranks), None)
        return ProductSnapshot(
            asin=self.asin,
            marketplace="com",
            last_update=keepa_time(minute),
            ranks_changed_at=newest,
            main_category_id=main,
            main_rank=ranks[main].rank if main in ranks else None,
            category_ranks=ranks,
            rank_series=series if with_series else {},
        )

    def crossings(self, start: int, end: int) -> list[tuple[int, ChangeKind, int]]:
        """Every crossing of #1 in (start, end]: (category, kind, minute)."""
        found = []
        for category, (times, values) in self.base.series.items():
            held = self.rank_at(category, start) == 1
            low = bisect.bisect_right(times, start - self.shift)
            high = bisect.bisect_right(times, end - self.shift)
            for t, rank in zip(times[low:high], values[low:high], strict=True):
                if (rank == 1) != held:
                    held = rank == 1
                    kind = ChangeKind.GAINED if held else ChangeKind.LOST
                    found.append((category, kind, t + self.shift))
        return found


def watch_list(count: int, near_share: float, seed: int) -> list[Product]:
    """`count` products, `near_share` of them from series that come near #1 and replayed
    from a start when they are (within 3 of #1 in the week before), the others from series
    far from it; each from a random start with a week before it and the replay after it."""
    rng = random.Random(seed)
    bases = keepa_bases() + csv_bases() + kindle_bases(10)
    near = [
        b for b in bases if min((r or 10**9) for _, (_, rs) in b.series.items() for r in rs) <= 3
    ]
    far = [b for b in bases if b not in near]
    products = []
    for index in range(count):
        is_near = index < round(count * near_share)
        base = (near if is_near else far)[index % len(near if is_near else far)]
        first, last = base.span
        room = last - first - 2 * WEEK - 3 * DAY
        # ASINs at random, as a real list's are: the key order (the order of a full pass)
        # has nothing to do with how near #1 a product is.
        asin = "B0" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=8))
        for _ in range(200):  # a near product: a start when it is near #1 (within 3)
            product = Product(asin, base, first + WEEK + rng.randrange(max(room, 1)))
            if not is_near or (product.best_before() or 10**9) <= CADENCE.near_rank:
                break
        products.append(product)
    return products
