"""The rules of the badge, as pure functions: ranks -> badges -> changes.

The #1 Best Seller badge is rank 1 in a category's Best Sellers list. Keepa has no badge
field, so a badge is derived from the category ranks. What we do not know (an unavailable
product, a category Keepa did not report) is never read as a loss.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import CategoryRank, Change, ProductSnapshot, StoredState


@dataclass(frozen=True)
class Observation:
    """The outcome of comparing one product snapshot with what we knew before.

    `state` is None only while we have never had usable data for the product."""

    state: StoredState | None
    changes: list[Change]
    is_baseline: bool


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
    crossings of the `top` sizes."""
    if not snapshot.available:
        return Observation(state=previous, changes=[], is_baseline=False)
    if previous is None:
        if not snapshot.category_ranks:  # nothing to compare against later: no baseline yet
            return Observation(state=None, changes=[], is_baseline=False)
        badges = dict.fromkeys(badge_categories(snapshot.category_ranks), observed_at)
        state = StoredState(
            category_ranks=dict(snapshot.category_ranks),
            badges=badges,
            first_seen_at=observed_at,
        )
        return Observation(state=state, changes=[], is_baseline=True)

    ranks = dict(previous.category_ranks)
    for category, entry in snapshot.category_ranks.items():
        known_name = previous.category_ranks.get(category, entry).name
        ranks[category] = entry if entry.name else entry.model_copy(update={"name": known_name})

    changes = []
    for category, entry in sorted(ranks.items()):
        if category not in snapshot.category_ranks:
            continue  # not reported this time: unknown, not a change
        if (entry.rank == 1) != (category in previous.badges):
            kind = ChangeKind.GAINED if entry.rank == 1 else ChangeKind.LOST  # the badge flipped
            changes.append(change_for(previous, snapshot, category, entry, observed_at, kind))
        elif crossed := top_crossing(previous, snapshot, category, top):
            changes.append(change_for(previous, snapshot, category, entry, observed_at, crossed))
    badges = {
        category: previous.badges.get(category, observed_at) for category in badge_categories(ranks)
    }
    state = StoredState(category_ranks=ranks, badges=badges, first_seen_at=previous.first_seen_at)
    return Observation(state=state, changes=changes, is_baseline=False)


def top_crossing(
    previous: StoredState, snapshot: ProductSnapshot, category: int, top: TopSizes
) -> ChangeKind | None:
    """Entered or left the top N for some asked N, from a known rank to a known rank. The
    main category counts only for sizes asked of it, and only once it is known which it is."""
    before = previous.category_ranks.get(category)
    if before is None or snapshot.main_category_id is None:
        return None
    after = snapshot.category_ranks[category].rank
    sizes = top.main if category == snapshot.main_category_id else top.categories
    crossed = [size for size in sizes if crosses_top(before.rank, after, size)]
    if not crossed:
        return None
    return ChangeKind.ENTERED_TOP_N if in_top(after, crossed[0]) else ChangeKind.LEFT_TOP_N


def change_for(
    previous: StoredState,
    snapshot: ProductSnapshot,
    category: int,
    entry: CategoryRank,
    observed_at: datetime,
    kind: ChangeKind,
) -> Change:
    before = previous.category_ranks.get(category)
    return Change(
        asin=snapshot.asin,
        marketplace=snapshot.marketplace,
        category_id=category,
        category_name=entry.name,
        kind=kind,
        rank_before=before.rank if before else None,
        rank_after=entry.rank,
        main_rank=snapshot.main_rank,
        title=snapshot.title,
        detected_at=observed_at,
        keepa_seen_at=snapshot.last_update,
    )


def moved_ranks(
    previous: StoredState | None, state: StoredState | None, *, main_category_id: int | None
) -> dict[int, int | None]:
    """Category ranks that differ from what we knew: the history keeps a point per change
    (Keepa's own convention). The main category's rank moves almost every pass, so it is kept
    per check instead and left out here."""
    if state is None:
        return {}
    known = previous.category_ranks if previous else {}
    return {
        category: entry.rank
        for category, entry in sorted(state.category_ranks.items())
        if category != main_category_id
        and (category not in known or known[category].rank != entry.rank)
    }
