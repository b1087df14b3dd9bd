"""Names for every ranked category. Keepa's categoryTree names only the product's main browse
path, so other ranked categories (often the one where it is #1) are named by Keepa's /category
lookup, cached in `category_names` and refreshed monthly; only ids without a fresh name are
asked for. A name never delays or fails an alert: without one, the alert shows the id.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bestseller_cli.errors import KeepaError
from bestseller_cli.keepa.client import CATEGORY_IDS_PER_REQUEST, KeepaClient
from bestseller_cli.models import ErrorEvent, ProductSnapshot
from bestseller_cli.rules.batch_diff import NameRow
from bestseller_cli.store.check_store import CachedName

NAMES_STAY_FRESH = timedelta(days=30)
# Keepa's docs: one token per /category request of up to 10 ids. Once a lookup has been
# answered, its `tokensConsumed` is the estimate.
ASSUMED_LOOKUP_COST = 1


@dataclass
class NameBudget:
    """The pass's /category spending, across batches."""

    limit: int
    spent: int = 0
    estimate: int = ASSUMED_LOOKUP_COST
    looked_up: int = 0  # categories named by a lookup this pass
    left_unnamed: int = 0  # categories a spent budget or a failure left without a name
    stopped_because: str | None = None


@dataclass
class BatchNames:
    names: dict[int, str] = field(default_factory=dict)
    rows: list[NameRow] = field(default_factory=list)


def tree_names(snapshots: Iterable[ProductSnapshot]) -> dict[int, str]:
    """Names the products' categoryTrees gave (already on their category ranks)."""
    return {
        category: entry.name
        for snapshot in snapshots
        for category, entry in snapshot.category_ranks.items()
        if entry.name
    }


def ids_to_look_up(
    snapshots: Iterable[ProductSnapshot],
    *,
    named: dict[int, str],
    cached: dict[int, CachedName],
    first: set[int],
    now: datetime,
) -> list[int]:
    """Ranked categories without a tree name or a fresh cached name; `first` (badges) leads."""
    ranked = {category for snapshot in snapshots for category in snapshot.category_ranks}
    wanted = {
        category
        for category in ranked
        if category not in named
        and (category not in cached or now - cached[category].fetched_at > NAMES_STAY_FRESH)
    }
    return sorted(wanted, key=lambda category: (category not in first, category))


def with_names(snapshot: ProductSnapshot, names: dict[int, str]) -> ProductSnapshot:
    """The snapshot with every category rank named where a name is known."""
    if all(
        entry.name or category not in names for category, entry in snapshot.category_ranks.items()
    ):
        return snapshot
    ranks = {
        category: entry if entry.name else entry.model_copy(update={"name": names.get(category)})
        for category, entry in snapshot.category_ranks.items()
    }
    return snapshot.model_copy(update={"category_ranks": ranks})


def name_batch(
    keepa: KeepaClient,
    *,
    marketplace: str,
    snapshots: list[ProductSnapshot],
    cached: dict[int, CachedName],
    first: set[int],
    budget: NameBudget,
    now: datetime,
    on_error: Callable[[ErrorEvent], None],
) -> BatchNames:
    """Every name known for a batch's categories, looking up the missing ones within budget.
    Returns the names and the rows to store (new or changed tree names, lookup answers,
    including the ids a lookup could not name, so they are not asked again this month)."""
    named = tree_names(snapshots)
    rows = [
        NameRow(category, name, "tree")
        for category, name in named.items()
        if category not in cached
        or cached[category].name != name
        or now - cached[category].fetched_at > NAMES_STAY_FRESH
    ]
    names = {category: entry.name for category, entry in cached.items() if entry.name} | named
    wanted = ids_to_look_up(snapshots, named=named, cached=cached, first=first, now=now)
    for start in range(0, len(wanted), CATEGORY_IDS_PER_REQUEST):
        chunk = wanted[start : start + CATEGORY_IDS_PER_REQUEST]
        if budget.stopped_because is None and budget.spent + budget.estimate > budget.limit:
            budget.stopped_because = (
                f"the KEEPA_CATEGORY_TOKEN_BUDGET of {budget.limit} tokens is spent"
            )
        if budget.stopped_because is not None:
            budget.left_unnamed += sum(category not in names for category in wanted[start:])
            break
        try:
            answer = keepa.category_names(chunk, marketplace=marketplace)
        except KeepaError as exc:
            budget.stopped_because = f"the category lookup failed ({exc})"
            message = f"names of categories {', '.join(map(str, chunk))}: {exc}"
            on_error(
                ErrorEvent(
                    source="keepa",
                    kind="category_lookup_failed",
                    message=message,
                    marketplace=marketplace,
                )
            )
            budget.left_unnamed += sum(category not in names for category in wanted[start:])
            break
        cost = answer.tokens_consumed if answer.tokens_consumed is not None else budget.estimate
        budget.spent, budget.estimate = budget.spent + cost, cost or budget.estimate
        budget.looked_up += len(answer.names)
        names.update(answer.names)
        rows += [NameRow(category, answer.names.get(category), "lookup") for category in chunk]
    return BatchNames(names=names, rows=rows)
