"""The schedule's rules, without servers: when each ASIN is checked next, what one run takes,
and what a plan buys."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from bestseller_cli.models import CategoryRank, ProductSnapshot, StoredState
from bestseller_cli.rules.likelihood import near_prior
from bestseller_cli.rules.schedule import (
    Cadence,
    Candidate,
    Cost,
    forecast,
    history_days,
    next_check,
    plan_run,
    run_budget,
)

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


def candidate(asin: str, *, checked: timedelta | None, interval: timedelta) -> Candidate:
    last = T0 - checked if checked is not None else None
    return Candidate(
        marketplace="com",
        asin=asin,
        last_checked_at=last,
        next_check_at=last + interval if last else None,
        watched_since=T0 - timedelta(days=30),
    )


def test_a_run_takes_those_about_to_pass_the_ceiling_first_then_the_most_overdue() -> None:
    candidates = [
        candidate("B0FARAWAY1", checked=timedelta(hours=13), interval=timedelta(hours=12)),
        candidate(
            "B0CEILING1", checked=timedelta(hours=23, minutes=50), interval=timedelta(hours=12)
        ),
        candidate("B0NEAR0001", checked=45 * MINUTE, interval=15 * MINUTE),
        candidate("B0HOLDER01", checked=20 * MINUTE, interval=15 * MINUTE),
        candidate("B0NOTDUE01", checked=10 * MINUTE, interval=60 * MINUTE),
    ]
    plan = plan_run(candidates, now=T0, budget=3, cadence=CADENCE)
    assert [c.asin for c in plan.chosen] == ["B0CEILING1", "B0NEAR0001", "B0HOLDER01"]
    assert (plan.due, plan.at_ceiling, plan.deferred, plan.ceiling_deferred) == (4, 1, 1, 0)
    everything = plan_run(candidates, now=T0, budget=None, cadence=CADENCE)
    assert [c.asin for c in everything.chosen][-1] == "B0FARAWAY1"


def test_a_run_never_takes_more_than_its_budget() -> None:
    candidates = [candidate(f"B0{n:08d}", checked=None, interval=MINUTE) for n in range(50)]
    for budget in (0, 1, 7, 49, 50, 80):
        plan = plan_run(candidates, now=T0, budget=budget, cadence=CADENCE)
        assert len(plan.chosen) == min(budget, 50)


def test_a_run_spends_its_share_never_past_the_hour_nor_past_what_keepa_has() -> None:
    def budget(spent: int, left: int | None) -> int | None:
        return run_budget(per_hour=1_200, spent_last_hour=spent, tokens_left=left,
                          cadence=CADENCE)  # fmt: skip

    assert budget(0, None) == 300  # a quarter of the hour's plan every 15 minutes
    assert budget(1_000, None) == 200  # the last hour already spent most of it
    assert budget(1_300, None) == 0
    assert budget(0, 120) == 120  # Keepa has less now (another tool on the key)
    assert run_budget(per_hour=None, spent_last_hour=0, tokens_left=None,
                      cadence=CADENCE) is None  # fmt: skip


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


# --- Keepa's clock: its cache, live data, and the worth of a check ------------------------

LIKELY = 0.2  # crossings per hour: a contested product
FAR_AWAY = near_prior(900)


def kept(asin: str, *, keepa_age: timedelta, chance: float, checked=None) -> Candidate:
    """A candidate due now whose Keepa data is `keepa_age` old."""
    last = T0 - (checked or keepa_age)
    return Candidate(
        marketplace="com",
        asin=asin,
        last_checked_at=last,
        next_check_at=T0,
        watched_since=T0 - timedelta(days=30),
        keepa_updated_at=T0 - keepa_age,
        chance_per_hour=chance,
    )


def test_a_far_product_waits_for_keepas_refresh_instead_of_buying_its_cached_answer() -> None:
    answered = product({KITCHEN: 4_000, GADGETS: 6}).model_copy(
        update={"last_update": T0 - 10 * MINUTE}
    )
    after = next_check(None, state({KITCHEN: 4_000, GADGETS: 6}), answered, main_before=None,
                       cadence=CADENCE, observed_at=T0)  # fmt: skip
    # its distance alone says 30 minutes; Keepa refreshes it on request only after T0 + 50 min
    assert after.interval == 51 * MINUTE
    assert after.reason == "Keepa's data refreshes at 12:51 UTC"
    plan = plan_run([kept("B0FARAWAY1", keepa_age=30 * MINUTE, chance=FAR_AWAY)], now=T0,
                    budget=10, cadence=CADENCE)  # fmt: skip
    assert plan.chosen == [] and plan.waiting == 1


def test_a_check_costs_one_token_once_keepa_refreshes_on_request_and_two_for_live_data():
    stale = kept("B0STALE001", keepa_age=61 * MINUTE, chance=LIKELY).cost(T0, CADENCE)
    young = kept("B0YOUNG001", keepa_age=20 * MINUTE, chance=LIKELY).cost(T0, CADENCE)
    assert (stale.tokens, stale.live) == (1, False)
    assert (young.tokens, young.live) == (2, True)
    # KEEPA_UPDATE_HOURS=3: at two hours old a plain request is cached, live data costs one
    two_hours = kept("B0OLDISH01", keepa_age=2 * 60 * MINUTE, chance=LIKELY)
    assert two_hours.cost(T0, Cadence(update_hours=3)) == Cost(1, live=True)


def test_a_run_spends_on_the_changes_it_is_most_likely_to_see_per_token() -> None:
    candidates = [
        kept("B0HOT00001", keepa_age=15 * MINUTE, chance=LIKELY),  # live: 0.05 per token
        kept("B0HOT00002", keepa_age=75 * MINUTE, chance=LIKELY),  # stale: 0.25 per token
        kept("B0WARM0001", keepa_age=75 * MINUTE, chance=0.02),  # stale: 0.025 per token
    ]
    plan = plan_run(candidates, now=T0, budget=3, cadence=CADENCE)
    assert [c.asin for c in plan.chosen] == ["B0HOT00002", "B0HOT00001"]
    assert plan.live == {("com", "B0HOT00001")} and plan.tokens == 3
    assert plan.deferred == 1


def test_the_run_keeps_its_pace_of_the_ceiling_before_chasing_changes() -> None:
    far = [kept(f"B0FAR{n:05d}", keepa_age=timedelta(hours=13 + n), chance=FAR_AWAY)
           for n in range(4)]  # fmt: skip
    hot = [kept(f"B0HOT{n:05d}", keepa_age=75 * MINUTE, chance=LIKELY) for n in range(4)]
    # 192 watched, one check per 24 h: two a 15-minute run, the longest unchecked first
    plan = plan_run(far + hot, now=T0, budget=4, cadence=CADENCE, watched=192)
    assert [c.asin for c in plan.chosen] == ["B0FAR00003", "B0FAR00002", "B0HOT00000",
                                             "B0HOT00001"]  # fmt: skip


def test_a_run_budget_is_never_exceeded_in_tokens() -> None:
    candidates = [kept(f"B0{n:08d}", keepa_age=n * MINUTE, chance=LIKELY) for n in range(120)]
    for budget in (0, 1, 2, 7, 50, 500):
        plan = plan_run(candidates, now=T0, budget=budget, cadence=CADENCE)
        assert plan.tokens <= budget
        assert plan.tokens == sum(2 if c.key in plan.live else 1 for c in plan.chosen)


def test_a_forecast_prices_checks_sooner_than_keepas_refresh_as_live_data() -> None:
    assert CADENCE.tokens_per_check(15 * MINUTE) == 2
    assert CADENCE.tokens_per_check(61 * MINUTE) == 1


def test_what_a_run_spares_for_other_work_never_touches_the_ceiling_or_its_pace() -> None:
    far = [kept(f"B0FAR{n:05d}", keepa_age=timedelta(hours=13 + n), chance=FAR_AWAY)
           for n in range(4)]  # fmt: skip
    ceiling = [kept("B0CEILING1", keepa_age=timedelta(hours=23, minutes=50), chance=FAR_AWAY)]
    hot = [kept(f"B0HOT{n:05d}", keepa_age=20 * MINUTE, chance=LIKELY) for n in range(10)]
    plan = plan_run(far + ceiling + hot, now=T0, budget=60, cadence=CADENCE, watched=192)
    assert plan.obliged == 2  # the one at the ceiling, and one more for the run's pace
    assert plan.spare(60) == 58 and plan.spare(None) is None
    squeezed = plan_run(far + ceiling + hot, now=T0, budget=plan.obliged, cadence=CADENCE,
                        watched=192)  # fmt: skip
    assert [c.asin for c in squeezed.chosen] == ["B0CEILING1", "B0FAR00003"]
