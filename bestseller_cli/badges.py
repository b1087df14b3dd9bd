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


def observe(
    previous: StoredState | None, snapshot: ProductSnapshot, *, observed_at: datetime
) -> Observation:
    """Decide the new state and the gained/lost changes for one product."""
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

    changes = [
        change_for(previous, snapshot, category, entry, observed_at)
        for category, entry in sorted(ranks.items())
        if category in snapshot.category_ranks
        and (entry.rank == 1) != (category in previous.badges)
    ]
    badges = {
        category: previous.badges.get(category, observed_at) for category in badge_categories(ranks)
    }
    state = StoredState(category_ranks=ranks, badges=badges, first_seen_at=previous.first_seen_at)
    return Observation(state=state, changes=changes, is_baseline=False)


def change_for(
    previous: StoredState,
    snapshot: ProductSnapshot,
    category: int,
    entry: CategoryRank,
    observed_at: datetime,
) -> Change:
    before = previous.category_ranks.get(category)
    return Change(
        asin=snapshot.asin,
        marketplace=snapshot.marketplace,
        category_id=category,
        category_name=entry.name,
        kind=ChangeKind.GAINED if entry.rank == 1 else ChangeKind.LOST,  # the badge flipped
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
