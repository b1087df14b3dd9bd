"""The rules of the badge, as pure functions: ranks -> badges -> changes.

The #1 Best Seller badge is rank 1 in a category's Best Sellers list. Keepa has no badge
field, so a badge is derived from the category ranks. What we do not know (an unavailable
product, a category Keepa did not report) is never read as a loss.

Every Keepa answer carries each category's rank series. A check walks the points recorded
since the check before (`StoredState.series_until`), so a badge that came and went between
two checks is a gain and a loss at Keepa's times, not nothing.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import CategoryRank, Change, ProductSnapshot, RankPoint, StoredState


@dataclass(frozen=True)
class RankStep:
    """A category's rank changed at `at` (Keepa's time, within our two checks): the history
    keeps a point per change, Keepa's own convention."""

    category_id: int
    at: datetime
    rank: int | None


@dataclass(frozen=True)
class Observation:
    """The outcome of comparing one product snapshot with what we knew before.

    `state` is None only while we have never had usable data for the product. `steps` are
    the category ranks to keep in the history (the main category's rank is kept per check
    instead: it moves almost every pass)."""

    state: StoredState | None
    changes: list[Change]
    is_baseline: bool
    steps: list[RankStep] = field(default_factory=list)


def badge_categories(ranks: Mapping[int, CategoryRank]) -> set[int]:
    return {category for category, entry in ranks.items() if entry.rank == 1}


@dataclass(frozen=True)
class TopSizes:
    """The sizes N of "top N" that active rules ask about, in subcategories and in the
    products' main categories."""

    categories: frozenset[int] = frozenset()
    main: frozenset[int] = frozenset()


def in_top(rank: int | None, size: int) -> bool:
    return rank is not None and rank <= size


def crosses_top(before: int | None, after: int | None, size: int) -> bool:
    """Entering or leaving the top N below #1: a move to or from #1 is a badge change."""
    return 1 not in (before, after) and in_top(before, size) != in_top(after, size)


def observe(
    previous: StoredState | None,
    snapshot: ProductSnapshot,
    *,
    observed_at: datetime,
    top: TopSizes = TopSizes(),
) -> Observation:
    """Decide the new state and the changes for one product: badges gained and lost, and
    crossings of the `top` sizes, each at the time Keepa recorded it."""
    if not snapshot.available:
        return Observation(state=previous, changes=[], is_baseline=False)
    main = snapshot.main_category_id
    if previous is None:
        if not snapshot.category_ranks:  # nothing to compare against later: no baseline yet
            return Observation(state=None, changes=[], is_baseline=False)
        state = StoredState(
            category_ranks=dict(snapshot.category_ranks),
            badges=dict.fromkeys(badge_categories(snapshot.category_ranks), observed_at),
            first_seen_at=observed_at,
            checked_at=observed_at,
            series_until=snapshot.ranks_changed_at,
        )
        steps = [
            RankStep(category, observed_at, entry.rank)
            for category, entry in sorted(snapshot.category_ranks.items())
            if category != main
        ]
        return Observation(state=state, changes=[], is_baseline=True, steps=steps)

    ranks = dict(previous.category_ranks)
    badges = dict(previous.badges)
    changes: list[Change] = []
    steps: list[RankStep] = []
    for category, entry in sorted(snapshot.category_ranks.items()):
        known = previous.category_ranks.get(category)
        if not entry.name and known:
            entry = entry.model_copy(update={"name": known.name})
        ranks[category] = entry
        sizes = top.main if category == main else top.categories
        rank, rank_known = (known.rank, True) if known else (None, False)
        for at, after in walk(previous, snapshot, category, observed_at=observed_at):
            kind = None
            if (after == 1) != (category in badges):  # the badge flipped
                kind = ChangeKind.GAINED if after == 1 else ChangeKind.LOST
                if after == 1:
                    badges[category] = at
                else:
                    del badges[category]
            elif rank_known and main is not None:
                kind = top_crossing(rank, after, sizes)
            if kind is not None:
                moved = (rank, after, at)
                changes.append(change_for(snapshot, entry, moved, kind, observed_at=observed_at))
            if category != main:
                steps.append(RankStep(category, at, after))
            rank, rank_known = after, True
    series_until = max(
        (moment for moment in (previous.series_until, snapshot.ranks_changed_at) if moment),
        default=None,
    )
    state = StoredState(
        category_ranks=ranks,
        badges=badges,
        first_seen_at=previous.first_seen_at,
        checked_at=observed_at,
        series_until=series_until,
    )
    return Observation(state=state, changes=changes, is_baseline=False, steps=steps)


def walk(
    previous: StoredState, snapshot: ProductSnapshot, category: int, *, observed_at: datetime
) -> list[RankPoint]:
    """The category's ranks since the check before, each where it changed: the points Keepa
    recorded after `previous.series_until`, at their times (kept between our two checks).
    When the series tells no change but the rank differs from the one we knew (no series,
    or one that does not reach back), the difference is dated when we saw it."""
    known = previous.category_ranks.get(category)
    rank: int | None = known.rank if known else None
    moved = known is None
    cutoff, since = previous.series_until, previous.checked_at
    points: list[RankPoint] = []
    for at, after in snapshot.rank_series.get(category, []) if cutoff else []:
        if at <= cutoff or (after == rank and not moved):
            continue
        points.append((min(max(at, since or at), observed_at), after))
        rank, moved = after, False
    current = snapshot.category_ranks[category].rank
    if moved or current != rank:
        points.append((observed_at, current))
    return points


def top_crossing(before: int | None, after: int | None, sizes: frozenset[int]) -> ChangeKind | None:
    """Entered or left the top N for some asked N, from a known rank to a known rank."""
    crossed = sorted(size for size in sizes if crosses_top(before, after, size))
    if not crossed:
        return None
    return ChangeKind.ENTERED_TOP_N if in_top(after, crossed[0]) else ChangeKind.LEFT_TOP_N


def change_for(
    snapshot: ProductSnapshot,
    entry: CategoryRank,
    moved: tuple[int | None, int | None, datetime],
    kind: ChangeKind,
    *,
    observed_at: datetime,
) -> Change:
    """The change of `entry`'s category: rank before, rank after, and when (Keepa's time)."""
    before, after, changed_at = moved
    return Change(
        asin=snapshot.asin,
        marketplace=snapshot.marketplace,
        category_id=entry.category_id,
        category_name=entry.name,
        kind=kind,
        rank_before=before,
        rank_after=after,
        main_rank=snapshot.main_rank,
        title=snapshot.title,
        detected_at=observed_at,
        keepa_seen_at=snapshot.last_update,
        changed_at=changed_at,
    )
