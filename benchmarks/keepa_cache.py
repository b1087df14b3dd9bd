"""Keepa's cache, for the replay (benchmarks/replay.py): an answer is as of the product's
last refresh (`lastUpdate`), and Keepa records a rank point only when it refreshes (the rank
Amazon shows at that moment, kept when it differs from the last one recorded).

A request refreshes a product only when its data is older than `update` hours (Keepa's
default 1) or when it asks for live data (`update=0`), which costs one more token while the
data is no older than an hour. Nobody else refreshes it (Keepa's own crawl and other users'
traffic are real but unknown, so the model leaves them out: a watcher cannot count on them).
Before day 0 Keepa is assumed to have seen the product's history as recorded, and to have
looked last two hours before the start.
"""

import bisect
from dataclasses import dataclass

from benchmarks.histories import DAY, START, Product
from bestseller_cli.keepa.payload import keepa_time
from bestseller_cli.models import CategoryRank, ProductSnapshot
from fakes.keepa_payloads import keepa_minute

HOUR = 60
LOOKED_BEFORE_START = 2 * HOUR


@dataclass
class Record:
    """What Keepa holds of one product: when it last looked, and its series as observed."""

    looked: int
    series: dict[int, tuple[list[int], list[int | None]]]


class KeepaCache:
    """Keepa's records of the replayed products, refreshed only on request."""

    def __init__(self, products: list[Product]) -> None:
        start = keepa_minute(START)
        self.records: dict[str, Record] = {}
        for product in products:
            series = {}
            for category, (times, ranks) in product.base.series.items():
                high = bisect.bisect_right(times, start - LOOKED_BEFORE_START - product.shift)
                series[category] = (
                    [t + product.shift for t in times[:high]],
                    list(ranks[:high]),
                )
            self.records[product.asin] = Record(start - LOOKED_BEFORE_START, series)

    def request(self, product: Product, minute: int, *, update_hours: int) -> tuple[int, bool]:
        """A request for `product` at `minute`: the tokens it costs and whether Keepa
        refreshed it (looked at Amazon) to answer."""
        record = self.records[product.asin]
        age = minute - record.looked
        if update_hours != 0 and age <= update_hours * HOUR:
            return 1, False
        for category, (times, ranks) in record.series.items():
            now = product.rank_at(category, minute)
            if not ranks or ranks[-1] != now:
                times.append(minute)
                ranks.append(now)
        for category in product.base.series.keys() - record.series.keys():
            now = product.rank_at(category, minute)
            if now is not None:
                record.series[category] = ([minute], [now])
        record.looked = minute
        return (2 if update_hours == 0 and age <= HOUR else 1), True

    def answer(self, product: Product, days: int, *, at: int) -> ProductSnapshot:
        """Keepa's answer as of its last look, each series trimmed to `days` back from the
        request at `at` (the last point before the window kept)."""
        record = self.records[product.asin]
        ranks: dict[int, CategoryRank] = {}
        series: dict[int, list] = {}
        for category, (times, values) in record.series.items():
            if not times:
                continue
            low = max(bisect.bisect_left(times, at - days * DAY) - 1, 0)
            points = [(keepa_time(t), values[i]) for i, t in enumerate(times[low:], low)]
            ranks[category] = CategoryRank(category_id=category, rank=points[-1][1])
            series[category] = points
        newest = max((points[-1][0] for points in series.values()), default=None)
        main = product.base.main or next(iter(ranks), None)
        return ProductSnapshot(
            asin=product.asin,
            marketplace="com",
            last_update=keepa_time(record.looked),
            ranks_changed_at=newest,
            main_category_id=main,
            main_rank=ranks[main].rank if main in ranks else None,
            category_ranks=ranks,
            rank_series=series,
        )
