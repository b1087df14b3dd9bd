"""Category watch, pure: which due categories a run fetches within its share of the plan,
when each is checked next, and what a new best seller list changed (a new #1, products
entering and leaving the top N), with the holders' stretches it closes and opens.

A list is Keepa's `/bestsellers?sublist=1`: one category's products by sub-category rank,
rebuilt by Keepa about hourly and cached up to an hour, 50 tokens a list (0 for a category
without one).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import BestSellerList, Change, ListMove

# What a list is assumed to cost until Keepa has reported one (its docs: 50 tokens).
ASSUMED_LIST_COST = 50
# The default interval: one list each 4 h is 6 lists, 300 tokens a day per category, about
# what 12 products cost at the hourly ceiling; Keepa rebuilds lists about hourly.
DEFAULT_EVERY_HOURS = 4.0
# Keepa caches a list for up to an hour: asking more often only pays for the same list.
MIN_EVERY_HOURS = 1.0
MAX_TOP_N = 10
SHORT_OF_SHARE, SHORT_OF_RUN = "the share", "this run's tokens"
# A watched category's list this near a tracked product's loss of its #1 names who took it,
# at no token (the holder lookup is not asked): Keepa rebuilds lists about hourly.
FRESH_LIST = timedelta(hours=1)


@dataclass(frozen=True)
class WatchedCategory:
    """One row of watched_categories: its fields are the table's columns (`client` is the
    client's name, read with it)."""

    marketplace: str
    category_id: int
    client_id: int | None = None
    every_hours: float = DEFAULT_EVERY_HOURS
    top_n: int | None = None
    name: str | None = None
    added_at: datetime | None = None
    last_checked_at: datetime | None = None
    list_updated_at: datetime | None = None
    next_check_at: datetime | None = None  # None: due at the next run
    empty_answers: int = 0
    top_asins: tuple[str, ...] = ()  # the head of the last list, best first
    tokens_per_list: int | None = None  # the last list's tokensConsumed; None: not measured
    id: int | None = None
    client: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "top_asins", tuple(self.top_asins or ()))

    @property
    def holder(self) -> str | None:
        """The #1 of the last list with one."""
        return self.top_asins[0] if self.top_asins else None

    @property
    def list_cost(self) -> int:
        """What its next list is expected to cost."""
        return self.tokens_per_list if self.tokens_per_list else ASSUMED_LIST_COST

    def tokens_per_day(self, every_hours: float | None = None) -> float:
        """Lists a day at the interval (its own by default), times what a list costs."""
        return 24 / (every_hours or self.every_hours) * self.list_cost

    def kept(self) -> int:
        """How many of a list's ASINs to keep: the top N, at least the #1."""
        return max(1, self.top_n or 1)


# --- the plan: which due categories a run fetches ----------------------------------------


@dataclass(frozen=True)
class CategoryPlan:
    """The due categories a run fetches (most overdue first), and those it cannot afford:
    their next check moves out (`stretched`, with the time it moves to)."""

    fetch: tuple[WatchedCategory, ...] = ()
    stretched: tuple[tuple[WatchedCategory, datetime], ...] = ()
    tokens_planned: int = 0
    short_of: str | None = None  # "the share" or "this run's tokens": what ran short
    runs_an_hour: float = 4.0

    @property
    def kept_back(self) -> int:
        """What the run's product checks leave unspent for the lists: this run's; or, when
        the share allows the next list but the run cannot afford it, that list's cost spread
        over an hour of runs, so that the hour saves up for it without a run going blind
        (product checks spend every run's share otherwise, and a 50-token list would never
        fit a small plan's run; Keepa keeps tokens an hour at most)."""
        if self.fetch:
            return self.tokens_planned
        if self.stretched and self.short_of == SHORT_OF_RUN:
            cost = min(watched.list_cost for watched, _ in self.stretched)
            return math.ceil(cost / self.runs_an_hour)
        return 0


def plan_categories(
    due: Sequence[WatchedCategory],
    *,
    tokens_free: int | None,
    share_left: int | None,
    now: datetime,
    retry_after: timedelta,
) -> CategoryPlan:
    """Fetch the due categories, most overdue first, while their expected cost fits both
    what this run has left after the product checks (`tokens_free`) and what the category
    share of the plan has left over its window (`share_left`); None: no limit known. A
    category left out is stretched: asked again `retry_after` from now (the next run)."""
    fetch: list[WatchedCategory] = []
    stretched: list[tuple[WatchedCategory, datetime]] = []
    spent = 0
    short_of = None
    for watched in sorted(due, key=overdue_order):
        cost = watched.list_cost
        over_run = tokens_free is not None and spent + cost > tokens_free
        over_share = share_left is not None and spent + cost > share_left
        if over_run or over_share:
            short_of = short_of or (SHORT_OF_SHARE if over_share else SHORT_OF_RUN)
            stretched.append((watched, now + retry_after))
            continue
        fetch.append(watched)
        spent += cost
    runs = timedelta(hours=1) / retry_after
    return CategoryPlan(tuple(fetch), tuple(stretched), spent, short_of, runs_an_hour=runs)


def overdue_order(watched: WatchedCategory) -> tuple[bool, datetime]:
    """Never checked first, then the longest overdue."""
    due_at = watched.next_check_at
    return (due_at is not None, due_at or datetime.min.replace(tzinfo=UTC))


def next_check(watched: WatchedCategory, *, now: datetime) -> datetime:
    return now + timedelta(hours=watched.every_hours)


def share_left(*, share: float, plan_per_hour: float | None, spent_last_day: int) -> int | None:
    """Tokens the category share has left over the last 24 h: `share` of a day of the plan,
    less what lists cost in it. None: the plan is not known."""
    if plan_per_hour is None:
        return None
    return max(int(share * plan_per_hour * 24) - spent_last_day, 0)


# --- what a new list changed ----------------------------------------------------------


class Role(StrEnum):
    OWN = "own"  # the watching client's own product
    COMPETITOR = "competitor"  # tracked, not the client's own
    UNTRACKED = "untracked"


@dataclass(frozen=True)
class Listed:
    """A product a list shows, as we know it for the watching client."""

    asin: str
    title: str | None = None
    role: Role = Role.UNTRACKED


@dataclass(frozen=True)
class HolderStretch:
    """Close the open stretch at `at` (when there is one) and open one for `asin` from `at`."""

    asin: str
    at: datetime


@dataclass(frozen=True)
class ListDiff:
    """A list decided: the watch's new state, the changes to alert, the stretch to open."""

    watched: WatchedCategory  # as it stands after this list
    changes: tuple[Change, ...] = ()
    stretch: HolderStretch | None = None
    empty: bool = False  # Keepa answered without a list
    first_empty: bool = False  # ... and the last answer had one (or there was none): warn


def diff_list(
    watched: WatchedCategory,
    listing: BestSellerList,
    *,
    known: Mapping[str, Listed],
    observed_at: datetime,
) -> ListDiff:
    """The list against what was seen of the category: a new head is "New #1" (none for
    the first list, a baseline), products entering and leaving the top N one digest."""
    if not listing.asins:
        empty = replace(
            watched, last_checked_at=observed_at, empty_answers=watched.empty_answers + 1
        )
        return ListDiff(empty, empty=True, first_empty=watched.empty_answers == 0)
    updated = listing.updated_at or observed_at
    head = tuple(listing.asins[: watched.kept()])
    after = replace(
        watched,
        last_checked_at=observed_at,
        list_updated_at=updated,
        empty_answers=0,
        top_asins=head,
        tokens_per_list=listing.tokens_consumed or watched.tokens_per_list,
    )
    before = watched.top_asins
    if not before:
        return ListDiff(after, stretch=HolderStretch(head[0], updated))
    changes: list[Change] = []
    stretch = None
    lookup = partial(listed, known)
    if head[0] != before[0]:
        stretch = HolderStretch(head[0], updated)
        holders = (lookup(head[0]), lookup(before[0]))
        changes.append(new_holder(after, holders, before, listing.asins, observed_at))
    moves = top_moves(before, head, watched.top_n)
    if moves:
        changes.append(top_digest(after, [(lookup(a), b, c) for a, b, c in moves], observed_at))
    return ListDiff(after, tuple(changes), stretch)


def listed(known: Mapping[str, Listed], asin: str) -> Listed:
    return known.get(asin) or Listed(asin)


def rank_in(asins: Sequence[str], asin: str) -> int | None:
    return asins.index(asin) + 1 if asin in asins else None


def top_moves(
    before: Sequence[str], after: Sequence[str], top_n: int | None
) -> list[tuple[str, int | None, int | None]]:
    """Products that entered or left the top N (asin, rank before, rank after), entries
    first by new rank; none without a top N of 2 or more. Only ranks both lists kept count."""
    if not top_n or top_n < 2:
        return []
    size = min(top_n, len(before), len(after))
    old, new = before[:size], after[:size]
    entered = [(asin, None, rank_in(new, asin)) for asin in new if asin not in old]
    left = [(asin, rank_in(old, asin), None) for asin in old if asin not in new]
    return entered + left


def new_holder(
    after: WatchedCategory,
    holders: tuple[Listed, Listed],
    before: Sequence[str],
    now_listed: Sequence[str],
    observed_at: datetime,
) -> Change:
    """A new #1 in the category: the holder, whom it displaced (and where the list has it
    now), at the list's update time."""
    holder, previous = holders
    return Change(
        asin=holder.asin,
        marketplace=after.marketplace,
        category_id=after.category_id,
        category_name=after.name,
        kind=ChangeKind.NEW_HOLDER,
        rank_before=rank_in(before, holder.asin),
        rank_after=1,
        main_rank=None,
        title=holder.title,
        detected_at=observed_at,
        keepa_seen_at=after.list_updated_at,
        changed_at=after.list_updated_at,
        previous_asin=previous.asin,
        list_moves=[
            ListMove(asin=holder.asin, title=holder.title, role=holder.role,
                     rank_before=rank_in(before, holder.asin), rank_after=1),
            ListMove(asin=previous.asin, title=previous.title, role=previous.role,
                     rank_before=1, rank_after=rank_in(now_listed, previous.asin)),
        ],
    )  # fmt: skip


def top_digest(
    after: WatchedCategory,
    moves: Sequence[tuple[Listed, int | None, int | None]],
    observed_at: datetime,
) -> Change:
    """One digest of a category's top-N entries and exits in one list, on its #1."""
    head = after.top_asins[0]
    return Change(
        asin=head,
        marketplace=after.marketplace,
        category_id=after.category_id,
        category_name=after.name,
        kind=ChangeKind.LIST_TOP_N,
        rank_before=None,
        rank_after=None,
        main_rank=None,
        title=None,
        detected_at=observed_at,
        keepa_seen_at=after.list_updated_at,
        changed_at=after.list_updated_at,
        list_moves=[
            ListMove(asin=item.asin, title=item.title, role=item.role,
                     rank_before=rank_before, rank_after=rank_after)
            for item, rank_before, rank_after in moves
        ],
    )  # fmt: skip


def mentioned(watched: WatchedCategory, listing: BestSellerList) -> list[str]:
    """The ASINs the list's changes would name: a new #1 and the one it displaced, and the
    products entering and leaving the top N."""
    head = listing.asins[: watched.kept()]
    before = watched.top_asins
    if not head or not before:
        return []
    named = [head[0], before[0]] if head[0] != before[0] else []
    named += [asin for asin, _, _ in top_moves(before, head, watched.top_n)]
    return list(dict.fromkeys(named))


def to_name(asins: Sequence[str], known: Mapping[str, Listed]) -> list[str]:
    """Those a message would show by ASIN alone: untracked, with no title kept."""
    return [asin for asin in asins if not listed(known, asin).title]
