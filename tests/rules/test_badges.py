"""The badge rules, without servers: what counts as a badge and what counts as a change."""

from datetime import UTC, datetime, timedelta

from bestseller_cli.models import CategoryRank, ProductSnapshot
from bestseller_cli.rules.badges import RankStep, TopSizes, observe

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
KITCHEN, GADGETS, TONGS = 1055398, 289913, 5555


def snapshot(ranks: dict[int, int | None], *, available: bool = True) -> ProductSnapshot:
    return ProductSnapshot(
        asin="B0C1234567",
        marketplace="com",
        available=available,
        title="Tongs",
        main_category_id=KITCHEN,
        main_rank=ranks.get(KITCHEN),
        category_ranks={
            category: CategoryRank(category_id=category, name=f"cat {category}", rank=rank)
            for category, rank in ranks.items()
        },
    )


def baseline(ranks: dict[int, int | None]):
    return observe(None, snapshot(ranks), observed_at=T0).state


def test_first_observation_is_a_baseline_without_changes() -> None:
    result = observe(None, snapshot({KITCHEN: 40, GADGETS: 1}), observed_at=T0)
    assert result.is_baseline
    assert result.changes == []
    assert result.state is not None
    assert result.state.badges == {GADGETS: T0}


def test_reaching_rank_one_gains_the_badge_with_the_rank_before() -> None:
    result = observe(baseline({KITCHEN: 40, GADGETS: 3}), snapshot({GADGETS: 1}), observed_at=T1)
    [change] = result.changes
    assert (change.kind, change.category_id, change.rank_before, change.rank_after) == (
        "gained",
        GADGETS,
        3,
        1,
    )
    assert change.category_name == f"cat {GADGETS}"


def test_losing_rank_one_in_a_subcategory_is_a_loss_with_the_rank_now() -> None:
    result = observe(baseline({GADGETS: 1}), snapshot({GADGETS: 4}), observed_at=T1)
    [change] = result.changes
    assert (change.kind, change.rank_before, change.rank_after) == ("lost", 1, 4)
    assert result.state is not None and result.state.badges == {}


def test_no_longer_ranked_is_a_loss() -> None:
    result = observe(baseline({GADGETS: 1}), snapshot({GADGETS: None}), observed_at=T1)
    [change] = result.changes
    assert (change.kind, change.rank_after) == ("lost", None)


def test_a_category_missing_from_the_snapshot_is_unknown_not_lost() -> None:
    previous = baseline({KITCHEN: 12, GADGETS: 1})
    result = observe(previous, snapshot({KITCHEN: 11}), observed_at=T1)
    assert result.changes == []
    assert result.state is not None
    assert result.state.badges == {GADGETS: T0}
    assert result.state.category_ranks[GADGETS].rank == 1


def test_an_unavailable_product_changes_nothing() -> None:
    previous = baseline({GADGETS: 1})
    result = observe(previous, snapshot({}, available=False), observed_at=T1)
    assert result.changes == []
    assert result.state == previous


def test_an_unavailable_product_seen_first_takes_no_baseline() -> None:
    result = observe(None, snapshot({}, available=False), observed_at=T0)
    assert result.state is None
    assert not result.is_baseline


def test_each_category_gains_and_loses_independently() -> None:
    previous = baseline({KITCHEN: 1, GADGETS: 2, TONGS: 1})
    result = observe(previous, snapshot({KITCHEN: 2, GADGETS: 1, TONGS: 1}), observed_at=T1)
    assert {(c.category_id, c.kind) for c in result.changes} == {
        (KITCHEN, "lost"),
        (GADGETS, "gained"),
    }
    assert result.state is not None
    assert result.state.badges == {GADGETS: T1, TONGS: T0}


def test_holding_the_badge_again_is_no_change_and_keeps_its_start() -> None:
    previous = baseline({GADGETS: 1})
    result = observe(previous, snapshot({GADGETS: 1}), observed_at=T1)
    assert result.changes == []
    assert result.state is not None and result.state.badges == {GADGETS: T0}


def test_a_new_category_at_rank_one_is_a_gain_from_unranked() -> None:
    result = observe(baseline({KITCHEN: 5}), snapshot({KITCHEN: 5, TONGS: 1}), observed_at=T1)
    [change] = result.changes
    assert (change.kind, change.category_id, change.rank_before) == ("gained", TONGS, None)


def test_a_product_without_any_rank_takes_no_baseline() -> None:
    result = observe(None, snapshot({}), observed_at=T0)
    assert result.state is None and not result.is_baseline
    later = observe(result.state, snapshot({GADGETS: 1}), observed_at=T1)
    assert later.is_baseline and later.changes == []


def test_history_keeps_a_point_only_for_ranks_that_moved_and_never_the_main_one() -> None:
    first = observe(None, snapshot({KITCHEN: 40, GADGETS: 3, TONGS: 9}), observed_at=T0)
    assert first.steps == [RankStep(TONGS, T0, 9), RankStep(GADGETS, T0, 3)]
    later = observe(first.state, snapshot({KITCHEN: 41, GADGETS: 2, TONGS: 9}), observed_at=T1)
    assert later.steps == [RankStep(GADGETS, T1, 2)]
    gone = observe(first.state, snapshot({}, available=False), observed_at=T1)
    assert gone.steps == []


# -- closing in on #1: crossings of the top N that rules ask about -----------------------

TOP_3 = TopSizes(categories=frozenset({3}))


def crossings(before: dict[int, int | None], now: dict[int, int | None], top: TopSizes = TOP_3):
    result = observe(baseline(before), snapshot(now), observed_at=T1, top=top)
    return [
        (change.kind, change.category_id, change.rank_before, change.rank_after)
        for change in result.changes
    ]


def test_entering_and_leaving_the_top_n_below_number_one_are_changes() -> None:
    assert crossings({KITCHEN: 40, GADGETS: 5}, {GADGETS: 2}) == [("entered_top_n", GADGETS, 5, 2)]
    assert crossings({KITCHEN: 40, GADGETS: 3}, {GADGETS: None}) == [
        ("left_top_n", GADGETS, 3, None)
    ]


def test_moving_within_or_outside_the_top_n_is_no_change() -> None:
    assert crossings({KITCHEN: 40, GADGETS: 3}, {GADGETS: 2}) == []
    assert crossings({KITCHEN: 40, GADGETS: 9}, {GADGETS: 4}) == []


def test_to_or_from_number_one_is_a_badge_change_only() -> None:
    assert crossings({KITCHEN: 40, GADGETS: 5}, {GADGETS: 1}) == [("gained", GADGETS, 5, 1)]
    assert crossings({KITCHEN: 40, GADGETS: 1}, {GADGETS: 7}) == [("lost", GADGETS, 1, 7)]
    assert crossings({KITCHEN: 40, GADGETS: 1}, {GADGETS: 2}) == [("lost", GADGETS, 1, 2)]


def test_without_a_size_asked_for_there_are_no_top_n_changes() -> None:
    assert crossings({KITCHEN: 40, GADGETS: 5}, {GADGETS: 2}, TopSizes()) == []


def test_one_change_serves_every_size_it_crosses_and_only_those() -> None:
    sizes = TopSizes(categories=frozenset({3, 10}))
    assert crossings({KITCHEN: 40, GADGETS: 12}, {GADGETS: 2}, sizes) == [
        ("entered_top_n", GADGETS, 12, 2)
    ]
    assert crossings({KITCHEN: 40, GADGETS: 5}, {GADGETS: 12}, sizes) == [
        ("left_top_n", GADGETS, 5, 12)
    ]


def test_unknown_ranks_never_close_in() -> None:
    first = observe(None, snapshot({KITCHEN: 40, GADGETS: 2}), observed_at=T0, top=TOP_3)
    assert first.changes == []
    assert crossings({KITCHEN: 40}, {GADGETS: 2}) == []  # a category not seen before
    previous = baseline({KITCHEN: 40, GADGETS: 5})
    gone = observe(previous, snapshot({GADGETS: 2}, available=False), observed_at=T1, top=TOP_3)
    assert gone.changes == []
    unknown_main = snapshot({GADGETS: 2}).model_copy(update={"main_category_id": None})
    assert observe(previous, unknown_main, observed_at=T1, top=TOP_3).changes == []


def test_the_main_category_counts_only_for_sizes_asked_of_it() -> None:
    assert crossings({KITCHEN: 8, GADGETS: 40}, {KITCHEN: 2}) == []
    with_main = TopSizes(categories=frozenset({3}), main=frozenset({3}))
    assert crossings({KITCHEN: 8, GADGETS: 40}, {KITCHEN: 2}, with_main) == [
        ("entered_top_n", KITCHEN, 8, 2)
    ]


# -- every change Keepa recorded: the series between two checks -------------------------


def with_series(ranks: dict[int, list[tuple[datetime, int | None]]]) -> ProductSnapshot:
    """A snapshot whose categories carry Keepa's rank series; the last point is current."""
    current = snapshot({category: points[-1][1] for category, points in ranks.items()})
    newest = max(at for points in ranks.values() for at, _ in points)
    return current.model_copy(update={"rank_series": ranks, "ranks_changed_at": newest})


def checked(ranks: dict[int, list[tuple[datetime, int | None]]], at: datetime):
    return observe(None, with_series(ranks), observed_at=at).state


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_a_badge_that_came_and_went_between_two_checks_is_a_gain_and_a_loss_at_keepas_times():
    previous = checked({GADGETS: [(minutes(-90), 4), (minutes(-5), 3)]}, T0)
    now = with_series({GADGETS: [(minutes(-5), 3), (minutes(12), 1), (minutes(40), 2)]})
    result = observe(previous, now, observed_at=T1)
    told = [
        (c.kind, c.rank_before, c.rank_after, c.changed_at, c.detected_at) for c in result.changes
    ]
    assert told == [("gained", 3, 1, minutes(12), T1), ("lost", 1, 2, minutes(40), T1)]
    assert result.state is not None and result.state.badges == {}
    assert result.steps == [RankStep(GADGETS, minutes(12), 1), RankStep(GADGETS, minutes(40), 2)]


def test_points_seen_by_the_check_before_are_not_changes_again() -> None:
    first = checked({GADGETS: [(minutes(-90), 1), (minutes(-30), 2)]}, T0)
    again = with_series({GADGETS: [(minutes(-90), 1), (minutes(-30), 2)]})
    assert observe(first, again, observed_at=T1).changes == []


def test_a_badge_held_since_the_gain_is_dated_when_keepa_saw_it() -> None:
    previous = checked({GADGETS: [(minutes(-60), 2)]}, T0)
    result = observe(previous, with_series({GADGETS: [(minutes(25), 1)]}), observed_at=T1)
    assert result.state is not None and result.state.badges == {GADGETS: minutes(25)}
    [change] = result.changes
    assert change.changed_at == minutes(25)


def test_a_keepa_time_outside_our_two_checks_is_kept_between_them() -> None:
    previous = checked({GADGETS: [(minutes(-60), 2)]}, T0)
    # Keepa's clock a little ahead of ours; a point dated before the check that did not see it.
    late = observe(
        previous, with_series({GADGETS: [(T1 + timedelta(minutes=2), 1)]}), observed_at=T1
    )
    assert [c.changed_at for c in late.changes] == [T1]
    stale = previous.model_copy(update={"series_until": minutes(-60)})
    early = observe(stale, with_series({GADGETS: [(minutes(-20), 1)]}), observed_at=T1)
    assert [c.changed_at for c in early.changes] == [T0]


def test_a_rank_changed_without_a_new_point_is_dated_when_seen() -> None:
    previous = checked({GADGETS: [(minutes(-60), 2)]}, T0)
    # No point after the last check, yet another rank: Keepa rewrote the series.
    result = observe(previous, with_series({GADGETS: [(minutes(-60), 1)]}), observed_at=T1)
    assert [(c.kind, c.changed_at) for c in result.changes] == [("gained", T1)]


def test_every_flip_of_a_long_gap_is_walked_and_the_top_n_crossings_too() -> None:
    previous = checked({GADGETS: [(minutes(-60), 6)]}, T0)
    hours = [(T0 + timedelta(hours=h), rank) for h, rank in ((2, 3), (9, 1), (17, 4), (29, 1))]
    result = observe(
        previous, with_series({GADGETS: hours}), observed_at=T0 + timedelta(hours=30), top=TOP_3
    )
    assert [(c.kind, c.changed_at) for c in result.changes] == [
        ("entered_top_n", hours[0][0]),
        ("gained", hours[1][0]),
        ("lost", hours[2][0]),
        ("gained", hours[3][0]),
    ]


def test_a_first_check_is_a_baseline_whatever_its_series_says() -> None:
    first = observe(
        None, with_series({GADGETS: [(minutes(-90), 1), (minutes(-30), 2)]}), observed_at=T0
    )
    assert first.is_baseline and first.changes == []


def test_an_unavailable_product_walks_nothing() -> None:
    previous = checked({GADGETS: [(minutes(-60), 2)]}, T0)
    gone = with_series({GADGETS: [(minutes(12), 1)]}).model_copy(update={"available": False})
    assert observe(previous, gone, observed_at=T1).changes == []
