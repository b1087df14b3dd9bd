"""A product's chance of crossing #1 within the hour, from what Keepa's answer carries."""

from datetime import UTC, datetime, timedelta

from bestseller_cli.models import CategoryRank, ProductSnapshot
from bestseller_cli.rules.likelihood import MEMORY, crossings, estimate, near_prior

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
BOOKS = 1000


def answer(points: list[tuple[timedelta, int]], *, available: bool = True) -> ProductSnapshot:
    """A product whose only series is `points` (offsets from T0), its rank now the last."""
    series = [(T0 + offset, rank) for offset, rank in points]
    return ProductSnapshot(
        asin="B0C1234567",
        marketplace="com",
        available=available,
        category_ranks={BOOKS: CategoryRank(category_id=BOOKS, rank=points[-1][1])},
        rank_series={BOOKS: series},
    )


def test_every_crossing_of_number_one_either_way_counts_once() -> None:
    flips = answer([(0 * HOUR, 3), (1 * HOUR, 1), (2 * HOUR, 2), (3 * HOUR, 5), (4 * HOUR, 1)])
    assert crossings(flips, after=None) == 3
    assert crossings(flips, after=T0 + 2 * HOUR) == 1  # only the one since the check before


def test_a_first_check_seeds_the_rate_from_the_whole_series() -> None:
    week = [(timedelta(days=day, hours=hour), 1 if hour else 4) for day in range(7)
            for hour in (0, 6)]  # fmt: skip
    chance = estimate(
        answer(week), lately_before=None, checked_before=None, best_before=None,
        now=T0 + timedelta(days=7),
    )  # fmt: skip
    assert crossings(answer(week), after=None) == 13
    assert chance.per_hour == 13 / (7 * 24 - 0)  # 13 crossings over the 7 days it spans
    assert "crossings/day lately" in chance.why


def test_the_rate_fades_with_time_and_grows_with_each_new_crossing() -> None:
    quiet = estimate(
        answer([(0 * HOUR, 40)]), lately_before=0.5, checked_before=T0,
        best_before=40, now=T0 + MEMORY,
    )  # fmt: skip
    assert abs(quiet.lately - 0.5 / 2.718281828) < 1e-6
    busy = estimate(
        answer([(0 * HOUR, 2), (1 * HOUR, 1)]), lately_before=0.0, checked_before=T0,
        best_before=2, now=T0 + 2 * HOUR,
    )  # fmt: skip
    assert busy.lately > 0 and busy.per_hour >= busy.lately


def test_near_number_one_a_product_without_history_still_has_a_chance() -> None:
    assert near_prior(1) == near_prior(2) == 1 / 24
    assert near_prior(3) < near_prior(2) and near_prior(100) < near_prior(10) < near_prior(3)
    assert near_prior(None) == 0
    newcomer = estimate(
        answer([(0 * HOUR, 2)]), lately_before=0.0, checked_before=T0, best_before=2,
        now=T0 + HOUR,
    )  # fmt: skip
    assert newcomer.per_hour == near_prior(2)
    assert "best #2 now" in newcomer.why


def test_a_product_climbing_towards_number_one_doubles_its_chance() -> None:
    def chance(best_before: int) -> float:
        return estimate(
            answer([(0 * HOUR, 3)]), lately_before=0.0, checked_before=T0,
            best_before=best_before, now=T0 + HOUR,
        ).per_hour  # fmt: skip

    assert chance(best_before=12) == 2 * chance(best_before=4)


def test_a_product_without_ranks_on_keepa_has_no_chance() -> None:
    gone = estimate(
        answer([(0 * HOUR, 1)], available=False), lately_before=1.0, checked_before=T0,
        best_before=1, now=T0 + HOUR,
    )  # fmt: skip
    assert gone.per_hour == 0 and gone.next_hour == 0
