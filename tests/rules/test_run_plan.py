"""One run's plan, without servers: what a check costs, which due ASINs a run takes within
its budget in tokens, and in what order."""

from datetime import timedelta

from bestseller_cli.rules.likelihood import near_prior
from bestseller_cli.rules.run_plan import Candidate, Cost, hour_left, plan_run, run_budget
from bestseller_cli.rules.schedule import Cadence, next_check
from tests.rules.test_schedule import (
    CADENCE,
    GADGETS,
    KITCHEN,
    MINUTE,
    T0,
    product,
    state,
)


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


def test_what_the_hour_has_left_bounds_one_run_and_its_lists_beyond_its_share() -> None:
    assert hour_left(per_hour=180, spent_last_hour=100, tokens_left=None) == 80
    assert hour_left(per_hour=180, spent_last_hour=100, tokens_left=30) == 30
    assert hour_left(per_hour=180, spent_last_hour=200, tokens_left=None) == 0
    assert hour_left(per_hour=None, spent_last_hour=0, tokens_left=5) is None
    # the product checks keep a run's share (45 of 180 an hour); a list may take the hour's
    share = run_budget(per_hour=180, spent_last_hour=0, tokens_left=None, cadence=CADENCE)
    assert share == 45 < 50 <= hour_left(per_hour=180, spent_last_hour=0, tokens_left=None)
