"""Category watch, pure: what a new list changed, and which due categories a run fetches."""

from datetime import UTC, datetime, timedelta

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import BestSellerList
from bestseller_cli.rules.category_watch import (
    HolderStretch,
    Listed,
    Role,
    WatchedCategory,
    diff_list,
    mentioned,
    plan_categories,
    share_left,
    to_name,
)
from bestseller_cli.rules.story import list_lines, list_source_line

KITCHEN = 3167641
A, B, C, D, E = (f"B0{letter * 8}" for letter in "ABCDE")
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
UPDATED = NOW - timedelta(minutes=20)
RUN = timedelta(minutes=15)


def watched(top: tuple[str, ...] = (), **fields: object) -> WatchedCategory:
    return WatchedCategory(marketplace="de", category_id=KITCHEN, name="Küche", top_asins=top,
                           **fields)  # fmt: skip


def listing(*asins: str, cost: int = 50) -> BestSellerList:
    return BestSellerList(
        category_id=KITCHEN,
        first_asin=asins[0] if asins else None,
        updated_at=UPDATED if asins else None,
        tokens_consumed=cost if asins else 0,
        asins=list(asins),
    )


def test_the_first_list_is_a_baseline_that_opens_the_holders_stretch() -> None:
    diff = diff_list(watched(), listing(A, B), known={}, observed_at=NOW)
    assert diff.changes == ()
    assert diff.stretch == HolderStretch(A, UPDATED)
    assert (diff.watched.top_asins, diff.watched.list_updated_at) == ((A,), UPDATED)
    assert diff.watched.tokens_per_list == 50


def test_a_new_head_is_one_new_holder_change_naming_both_holders_at_the_lists_time() -> None:
    known = {B: Listed(B, "Rival kettle", Role.UNTRACKED), A: Listed(A, "Our kettle", Role.OWN)}
    diff = diff_list(watched((A,)), listing(B, A), known=known, observed_at=NOW)
    [change] = diff.changes
    assert (change.kind, change.asin, change.previous_asin) == (ChangeKind.NEW_HOLDER, B, A)
    assert (change.changed_at, change.detected_at, change.title) == (UPDATED, NOW, "Rival kettle")
    assert diff.stretch == HolderStretch(B, UPDATED)
    assert list_lines(change) == [
        f"Now #1: {B} Rival kettle (untracked)",
        f"Before: {A} Our kettle (your product), now #2",
    ]
    assert "Keepa's best seller list" in list_source_line(change)


def test_the_same_head_changes_nothing() -> None:
    diff = diff_list(watched((A,)), listing(A, B), known={}, observed_at=NOW)
    assert (diff.changes, diff.stretch) == ((), None)


def test_top_n_entries_and_exits_are_one_digest_per_list() -> None:
    before = watched((A, B, C), top_n=3)
    diff = diff_list(before, listing(A, D, B, E, C), known={}, observed_at=NOW)
    [digest] = diff.changes
    assert digest.kind == ChangeKind.LIST_TOP_N
    moves = [(m.asin, m.rank_before, m.rank_after) for m in digest.list_moves or []]
    assert moves == [(D, None, 2), (C, 3, None)]
    assert list_lines(digest) == [
        f"Entered at #2: {D} (untracked)",
        f"Left (was #3): {C} (untracked)",
    ]


def test_a_head_change_with_a_top_n_alerts_the_head_and_digests_the_rest() -> None:
    diff = diff_list(watched((A, B), top_n=2), listing(C, A), known={}, observed_at=NOW)
    assert [change.kind for change in diff.changes] == [
        ChangeKind.NEW_HOLDER,
        ChangeKind.LIST_TOP_N,
    ]


def test_an_empty_answer_keeps_the_last_list_and_warns_only_the_first_time() -> None:
    first = diff_list(watched((A,)), listing(), known={}, observed_at=NOW)
    assert (first.empty, first.first_empty, first.watched.top_asins) == (True, True, (A,))
    again = diff_list(first.watched, listing(), known={}, observed_at=NOW)
    assert (again.first_empty, again.watched.empty_answers) == (False, 2)


def test_only_untracked_products_without_a_title_are_named() -> None:
    before = watched((A, B), top_n=2)
    names = mentioned(before, listing(C, A, B))
    assert names == [C, A, B]
    known = {A: Listed(A, "Ours", Role.OWN), B: Listed(B, None, Role.COMPETITOR)}
    assert to_name(names, known) == [C, B]


# --- the plan ---------------------------------------------------------------------------


def due(category: int, *, since: timedelta | None, cost: int | None = None) -> WatchedCategory:
    return WatchedCategory(
        marketplace="de",
        category_id=category,
        next_check_at=None if since is None else NOW - since,
        tokens_per_list=cost,
    )


def test_the_plan_fetches_the_most_overdue_first_within_the_share() -> None:
    categories = [
        due(1, since=timedelta(hours=1)),
        due(2, since=None),
        due(3, since=timedelta(hours=3)),
    ]
    plan = plan_categories(categories, tokens_free=500, share_left=100, now=NOW, retry_after=RUN)
    assert [w.category_id for w in plan.fetch] == [2, 3]
    assert [(w.category_id, at) for w, at in plan.stretched] == [(1, NOW + RUN)]
    assert (plan.tokens_planned, plan.short_of) == (100, "the share")


def test_the_product_checks_come_first_when_the_run_has_no_tokens_left() -> None:
    plan = plan_categories([due(1, since=None)], tokens_free=49, share_left=1000, now=NOW,
                           retry_after=RUN)  # fmt: skip
    assert plan.fetch == () and plan.short_of == "this run's tokens"


def test_a_run_that_cannot_afford_a_list_the_share_allows_keeps_its_cost_back() -> None:
    """Product checks spend every run's share: a list more costly than one run's spare
    would never fit, so the runs of an hour keep a part of its cost each until the hour
    has it."""
    fetched = plan_categories([due(1, since=None)], tokens_free=60, share_left=1000, now=NOW,
                              retry_after=RUN)  # fmt: skip
    assert fetched.kept_back == fetched.tokens_planned == 50
    saving = plan_categories([due(1, since=None, cost=40)], tokens_free=39, share_left=1000,
                             now=NOW, retry_after=RUN)  # fmt: skip
    assert (saving.tokens_planned, saving.kept_back) == (0, 10)  # a quarter each run
    over_share = plan_categories([due(1, since=None)], tokens_free=39, share_left=10, now=NOW,
                                 retry_after=RUN)  # fmt: skip
    assert over_share.kept_back == 0  # the share has not got it: nothing to save up for


def test_a_measured_cost_replaces_the_assumed_fifty() -> None:
    plan = plan_categories([due(1, since=None, cost=30), due(2, since=None, cost=30)],
                           tokens_free=None, share_left=60, now=NOW, retry_after=RUN)  # fmt: skip
    assert len(plan.fetch) == 2


def test_the_share_counts_a_day_of_the_plan_less_what_lists_cost_in_it() -> None:
    assert share_left(share=0.1, plan_per_hour=60, spent_last_day=100) == 44
    assert share_left(share=0.1, plan_per_hour=60, spent_last_day=500) == 0
    assert share_left(share=0.1, plan_per_hour=None, spent_last_day=0) is None
