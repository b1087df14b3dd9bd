"""A product's rank history over a period, on a grid of equal time buckets: what the charts
draw. Pure: the store reads the facts (`BucketFacts`, `CategoryPoints`), this module decides
what each bucket shows.

Per bucket, the compact history says one of four things (`Coverage`): the product was checked
and Keepa had data (ranks are drawn); it was checked and Keepa had none; it was not checked
(before it was watched, or no pass ran); or the checks were pruned into spans, which keep
only whether the product held #1 somewhere, never its ranks (nothing is drawn but that).

A rank in a series is an int: 1.. a rank, `NOT_RANKED` (0) listed in the category without a
rank; `None` nothing known (before the first point, or a bucket not observed).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bestseller_cli.models import Change

NOT_RANKED = 0
# Categories a chart draws besides the main one: those where the product reached this rank
# (so held #1 too), the best ones first, at most this many.
RELEVANT_RANK = 10
MAX_CATEGORIES = 4


class Coverage(StrEnum):
    OBSERVED = "observed"  # checked; Keepa had data
    NO_DATA = "no_data"  # checked; Keepa had no data for the product
    UNOBSERVED = "unobserved"  # not checked: before it was watched, or no pass ran
    SUMMARIZED = "summarized"  # pruned to spans: only whether it held #1 is known


@dataclass(frozen=True)
class Grid:
    """`count` equal buckets from `since` to `until`."""

    since: datetime
    until: datetime
    count: int

    @property
    def step(self) -> timedelta:
        return (self.until - self.since) / self.count

    def index(self, moment: datetime) -> int:
        """The bucket holding `moment`, clamped to the grid."""
        position = int((moment - self.since) / self.step)
        return min(max(position, 0), self.count - 1)

    def start(self, bucket: int) -> datetime:
        return self.since + self.step * bucket

    def fraction(self, moment: datetime) -> float:
        """Where `moment` falls, 0 at `since` and 1 at `until` (clamped)."""
        return min(max((moment - self.since) / (self.until - self.since), 0.0), 1.0)


@dataclass(frozen=True)
class BucketFacts:
    """What the checks (asin_checks) and spans (check_spans) of one bucket say."""

    bucket: int
    checks: int = 0  # checks in the bucket, Keepa having data or not
    available: int = 0  # ... of which Keepa had data
    summarized: int = 0  # checks known only from spans
    holding: bool | None = None  # held #1 in some category at some check; None: unknown
    main_rank: int | None = None  # the best main rank of the bucket's checks


@dataclass(frozen=True)
class CategoryPoints:
    """One category's rank points (a point per change) in the period, per bucket."""

    category_id: int
    name: str | None
    start_rank: int | None  # in effect at the period's start
    started: bool  # a point before the period exists (start_rank None: not ranked)
    buckets: list[int] = field(default_factory=list)
    best: list[int | None] = field(default_factory=list)  # best rank among the bucket's points
    last: list[int | None] = field(default_factory=list)  # the rank in effect after the bucket


@dataclass(frozen=True)
class ProductHistory:
    """What the store read of one product for the period."""

    asin: str
    marketplace: str
    main_category_id: int | None
    main_category_name: str | None
    facts: list[BucketFacts]
    categories: list[CategoryPoints]


@dataclass(frozen=True)
class Series:
    """One line of a chart: a rank per bucket (see the module's docstring)."""

    label: str
    category_id: int | None
    main: bool
    ranks: list[int | None]

    def at_one(self, bucket: int) -> bool:
        return self.ranks[bucket] == 1


@dataclass(frozen=True)
class Marker:
    """A badge change to mark: when, in which series, which kind, the rank after it."""

    at: datetime
    series: int  # index into the chart's series
    change: Change


@dataclass(frozen=True)
class ProductChart:
    """Everything one product's chart shows; `holding[i]` is the span's word on #1 where
    `coverage[i]` is SUMMARIZED."""

    asin: str
    marketplace: str
    grid: Grid
    coverage: list[Coverage]
    holding: list[bool | None]
    series: list[Series]
    markers: list[Marker]

    def at_one(self, bucket: int) -> bool:
        """Held #1 in a drawn series (observed), or per the spans (summarized)."""
        if self.coverage[bucket] is Coverage.SUMMARIZED:
            return bool(self.holding[bucket])
        return any(line.at_one(bucket) for line in self.series)

    def best_ranks(self) -> list[int | None]:
        """The best rank of any series per bucket, for a sparkline (None: nothing known)."""
        best: list[int | None] = []
        for bucket in range(self.grid.count):
            ranks = [r for line in self.series if (r := line.ranks[bucket])]
            best.append(min(ranks) if ranks else None)
        return best


def chart_of(
    history: ProductHistory,
    *,
    grid: Grid,
    max_gap: timedelta,
    changes: list[Change],
    main: bool = True,
) -> ProductChart:
    """The chart of one product: coverage per bucket, the main rank (unless not `main`) and
    each category's rank, and markers for its badge changes (`changes`: the period's, any
    product's)."""
    coverage, holding = coverage_of(history.facts, grid=grid, max_gap=max_gap)
    observed = [state is Coverage.OBSERVED for state in coverage]
    series = [
        Series(
            label=category_label(c.name, c.category_id),
            category_id=c.category_id,
            main=False,
            ranks=masked(category_ranks(c, count=grid.count), observed),
        )
        for c in history.categories
    ]
    ranks = main_ranks(history.facts, coverage=coverage)
    if main and any(ranks):  # some main rank known: else no main line at all
        label = category_label(history.main_category_name, history.main_category_id)
        series.insert(
            0,
            Series(
                label=f"{label} (main)",
                category_id=history.main_category_id,
                main=True,
                ranks=ranks,
            ),
        )
    place = {line.category_id: n for n, line in enumerate(series)}
    markers = [
        Marker(at=change.changed_at, series=place[change.category_id], change=change)
        for change in changes
        if (change.asin, change.marketplace) == (history.asin, history.marketplace)
        and change.category_id in place
        and grid.since <= change.changed_at <= grid.until
    ]
    return ProductChart(
        asin=history.asin,
        marketplace=history.marketplace,
        grid=grid,
        coverage=coverage,
        holding=holding,
        series=series,
        markers=markers,
    )


def category_label(name: str | None, category_id: int | None) -> str:
    return name or (f"category {category_id}" if category_id is not None else "main category")


def coverage_of(
    facts: list[BucketFacts], *, grid: Grid, max_gap: timedelta
) -> tuple[list[Coverage], list[bool | None]]:
    """Each bucket's coverage: its own facts, else those of the last bucket with facts while
    no more than `max_gap` has passed since (the passes' schedule: an hourly pass observes the
    hour after it), else not observed."""
    by_bucket = {fact.bucket: fact for fact in facts}
    reach = max(0, -(-max_gap // grid.step) - 1)  # buckets a check's observation carries over
    coverage: list[Coverage] = []
    holding: list[bool | None] = []
    last: tuple[int, Coverage, bool | None] | None = None
    for bucket in range(grid.count):
        fact = by_bucket.get(bucket)
        if fact is not None:
            state = own_coverage(fact)
            last = (bucket, state, fact.holding if state is Coverage.SUMMARIZED else None)
        if last is not None and bucket - last[0] <= reach:
            coverage.append(last[1])
            holding.append(last[2])
        else:
            coverage.append(Coverage.UNOBSERVED)
            holding.append(None)
    return coverage, holding


def own_coverage(fact: BucketFacts) -> Coverage:
    if fact.available:
        return Coverage.OBSERVED
    if fact.summarized:
        return Coverage.SUMMARIZED
    return Coverage.NO_DATA if fact.checks else Coverage.UNOBSERVED


def main_ranks(facts: list[BucketFacts], *, coverage: list[Coverage]) -> list[int | None]:
    """The main rank per observed bucket: the bucket's best, carried over the buckets its
    checks cover; not ranked where Keepa gave none."""
    by_bucket = {fact.bucket: fact for fact in facts if fact.available}
    ranks: list[int | None] = []
    current: int | None = None
    for bucket, state in enumerate(coverage):
        if bucket in by_bucket:
            current = by_bucket[bucket].main_rank or NOT_RANKED
        elif state is not Coverage.OBSERVED:
            current = None
        ranks.append(current if state is Coverage.OBSERVED else None)
    return ranks


def category_ranks(points: CategoryPoints, *, count: int) -> list[int | None]:
    """A category's rank per bucket from its points: the best point of a bucket with points
    (so a brief #1 shows), else the rank in effect."""
    current = (points.start_rank or NOT_RANKED) if points.started else None
    moves = {
        b: (best, last)
        for b, best, last in zip(points.buckets, points.best, points.last, strict=True)
    }
    ranks: list[int | None] = []
    for bucket in range(count):
        if bucket in moves:
            best, last = moves[bucket]
            ranks.append(best or NOT_RANKED)
            current = last or NOT_RANKED
        else:
            ranks.append(current)
    return ranks


def masked(ranks: list[int | None], observed: list[bool]) -> list[int | None]:
    return [rank if seen else None for rank, seen in zip(ranks, observed, strict=True)]


def grid_for(since: datetime, until: datetime, *, buckets: int = 144) -> Grid:
    """The grid of a period: `buckets` of them, none shorter than a minute."""
    minutes = max(1, int((until - since).total_seconds() // 60))
    return Grid(since=since, until=until, count=max(1, min(buckets, minutes)))
