"""The schedule's rules, without servers: when each ASIN is checked next, what one run takes,
and what a plan buys."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from bestseller_cli.models import CategoryRank, ProductSnapshot, StoredState
from bestseller_cli.rules.schedule import Cadence, forecast, history_days, next_check

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
CADENCE = Cadence(run_minutes=15, ceiling_hours=24, near_rank=3)
KITCHEN, GADGETS = 1055398, 289913
MINUTE = timedelta(minutes=1)


def product(ranks: dict[int, int | None], *, series=None, available=True) -> ProductSnapshot:
    return ProductSnapshot(
        asin="B0C1234567",
        marketplace="com",
        available=available,
        main_category_id=KITCHEN,
        main_rank=ranks.get(KITCHEN),
        category_ranks={c: CategoryRank(category_id=c, rank=r) for c, r in ranks.items()},
        rank_series=series or {},
    )


def state(ranks: dict[int, int | None], *, checked_at=T0) -> StoredState:
    return StoredState(
        category_ranks={c: CategoryRank(category_id=c, rank=r) for c, r in ranks.items()},
        badges={c: T0 for c, r in ranks.items() if r == 1},
        first_seen_at=T0,
        checked_at=checked_at,
    )


def interval_after(ranks: dict[int, int | None], *, before=None, series=None) -> timedelta:
    now = state(ranks)
    return next_check(before, now, product(ranks, series=series), main_before=None,
                      cadence=CADENCE).interval  # fmt: skip


def test_holding_number_one_or_near_it_is_checked_every_run() -> None:
    assert interval_after({KITCHEN: 4_000, GADGETS: 1}) == 15 * MINUTE
    assert interval_after({KITCHEN: 4_000, GADGETS: 3}) == 15 * MINUTE


def test_further_from_number_one_the_interval_grows_with_the_rank_up_to_half_the_ceiling():
    assert interval_after({KITCHEN: 4_000, GADGETS: 6}) == 30 * MINUTE
    assert interval_after({KITCHEN: 4_000, GADGETS: 12}) == 60 * MINUTE
    assert interval_after({KITCHEN: 4_000, GADGETS: 900}) == timedelta(hours=12)


def test_the_best_rank_reached_since_the_check_before_counts_not_only_the_rank_now() -> None:
    touched = {
        GADGETS: [(T0 - timedelta(hours=3), 2), (T0 + 30 * MINUTE, 2), (T0 + 50 * MINUTE, 40)]
    }
    before = state({GADGETS: 30}, checked_at=T0)
    assert (
        interval_after({KITCHEN: 4_000, GADGETS: 40}, before=before, series=touched) == 15 * MINUTE
    )
    calm = {GADGETS: [(T0 - timedelta(hours=3), 2), (T0 + 50 * MINUTE, 40)]}
    assert (
        interval_after({KITCHEN: 4_000, GADGETS: 40}, before=before, series=calm) > 3 * 60 * MINUTE
    )


def test_a_main_rank_that_jumps_brings_the_next_check_within_the_hour() -> None:
    ranks = {KITCHEN: 900, GADGETS: 800}
    jumped = next_check(state({KITCHEN: 5_000}), state(ranks), product(ranks),
                        main_before=5_000, cadence=CADENCE)  # fmt: skip
    assert jumped.interval == timedelta(hours=1)
    assert "jumped #5,000 → #900" in jumped.reason


def test_a_product_without_rank_data_waits_the_longest_interval() -> None:
    gone = next_check(None, None, product({}, available=False), main_before=None, cadence=CADENCE)
    assert gone.interval == timedelta(hours=12)


def test_the_window_asked_reaches_back_past_the_oldest_check_of_the_batch() -> None:
    now = T0 + timedelta(hours=30)
    assert history_days([T0, now - MINUTE], now=now, least=1) == 2
    assert history_days([T0, now - MINUTE, None], now=now, least=1) == 7  # seeds a chance
    assert history_days([None], now=now, least=1) == 7
    assert history_days([now - timedelta(hours=2)], now=now, least=3) == 3


def test_a_plan_too_small_for_the_ceiling_says_how_many_asins_it_can_watch() -> None:
    intervals = Counter({timedelta(hours=12): 5_000})
    outlook = forecast(intervals, watched=5_000, plan_per_hour=180, cadence=CADENCE)
    assert not outlook.covers_ceiling
    assert outlook.too_small() == (
        "the plan (180 tokens/h) can check each of the 5,000 watched ASINs only about every"
        " 28 h 2 min; once per 24 h (CHECK_CEILING_HOURS) it can watch 4,320 ASINs"
    )
    enough = forecast(intervals, watched=5_000, plan_per_hour=1_200, cadence=CADENCE)
    assert enough.fits and enough.too_small() is None
    assert "a change waits at most 12 h 15 min to be seen" in enough.describe()


def test_a_short_plan_stretches_every_interval_alike_up_to_the_ceiling() -> None:
    intervals = Counter({15 * MINUTE: 60, timedelta(hours=12): 480})
    short = forecast(intervals, watched=540, plan_per_hour=300, cadence=CADENCE)
    # every 15 minutes is sooner than Keepa refreshes: live data, two tokens a check
    assert short.tokens_per_hour == 60 * 4 * 2 + 480 / 12
    assert short.covers_ceiling and not short.fits
    assert short.longest_wait == timedelta(hours=12) * (520 / 300) + 15 * MINUTE


def test_a_forecast_prices_checks_sooner_than_keepas_refresh_as_live_data() -> None:
    assert CADENCE.tokens_per_check(15 * MINUTE) == 2
    assert CADENCE.tokens_per_check(61 * MINUTE) == 1
