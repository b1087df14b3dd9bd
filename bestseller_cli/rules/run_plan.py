"""What one run checks, as pure functions: the run's budget in tokens, what a check costs
(one token, or two for live data while Keepa's is under an hour old) and which due ASINs it
takes, in order (see rules/schedule.py for when each is due, and why).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bestseller_cli.rules.schedule import HOUR, LIVE_EXTRA_UNTIL, Cadence, ScheduleSettings


@dataclass(frozen=True)
class Candidate:
    """A watched ASIN that may be due: its last check (None: never), its next one, since
    when it is watched, since when its rank series must reach back (`since`: the last
    check or Keepa's data then, whichever is older), Keepa's `lastUpdate` in the last
    answer and the chance per hour of a #1 crossing (rules/likelihood.py)."""

    marketplace: str
    asin: str
    last_checked_at: datetime | None
    next_check_at: datetime | None
    watched_since: datetime
    since: datetime | None = None
    keepa_updated_at: datetime | None = None
    chance_per_hour: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.marketplace, self.asin)

    def at_ceiling(self, now: datetime, cadence: Cadence) -> bool:
        """Unchecked this run, it would wait past the ceiling by the next one."""
        last = self.last_checked_at or self.watched_since
        return last + cadence.ceiling - cadence.run <= now

    def overdue(self, now: datetime, cadence: Cadence) -> float:
        """Time since the last check over its interval: 1 when due, more the later it is."""
        if self.last_checked_at is None or self.next_check_at is None:
            waited = now - self.watched_since
            return 1 + waited / cadence.run  # a first check: as urgent as every run
        interval = max(self.next_check_at - self.last_checked_at, cadence.run)
        return (now - self.last_checked_at) / interval

    def cost(self, now: datetime, cadence: Cadence) -> "Cost":
        """What a check now costs, and whether it must ask for live data to see anything
        new: a plain request gets a fresh answer once Keepa's data is older than `update`
        hours; `update=0` costs one more token while it is no older than an hour."""
        if self.keepa_updated_at is None:
            return Cost(1, live=cadence.always_live)
        age = now - self.keepa_updated_at
        if not cadence.always_live and age > cadence.keepa_refresh:
            return Cost(1, live=False)
        return Cost(2 if age <= LIVE_EXTRA_UNTIL else 1, live=True)

    def worth(self, now: datetime, cost: "Cost") -> float:
        """Expected #1 changes seen per token: those since Keepa last looked (a first check:
        before all others)."""
        looked = self.keepa_updated_at or self.last_checked_at
        if looked is None:
            return math.inf
        return self.chance_per_hour * max((now - looked) / HOUR, 0.0) / cost.tokens


@dataclass(frozen=True)
class Cost:
    tokens: int
    live: bool  # asks Keepa for live data (update=0)


@dataclass(frozen=True)
class RunPlan:
    """What one run checks, in order, out of what is due: `live` those asked with
    `update=0`, `tokens` what they cost."""

    chosen: list[Candidate]
    due: int  # ASINs due this run
    at_ceiling: int  # of them, about to wait past the ceiling
    deferred: int  # due, but past this run's budget: the next run takes them first
    ceiling_deferred: int  # at the ceiling and past the budget: the plan is too small
    live: frozenset[tuple[str, str]] = frozenset()
    tokens: int = 0
    waiting: int = 0  # due by their interval, waiting for Keepa's data to go stale
    obliged: int = 0  # the tokens of those at the ceiling and the run's pace of it

    def spare(self, budget: int | None) -> int | None:
        """What `budget` leaves once the ceiling and its pace are paid for: what other work
        (category lists) may take from this run without an ASIN missing its ceiling."""
        return None if budget is None else max(budget - self.obliged, 0)


def plan_run(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    budget: int | None,
    cadence: Cadence,
    watched: int | None = None,
) -> RunPlan:
    """The due candidates within `budget` tokens (None: no limit): those at the ceiling
    first (longest unchecked first), then the run's pace of the ceiling among the `watched`
    (the longest unchecked of those Keepa will refresh), then by expected changes seen per
    token. A candidate not likely enough to pay for live data waits for Keepa's refresh."""
    horizon = cadence.horizon(now)
    due, costs, waiting = [], {}, 0
    for candidate in candidates:
        if candidate.next_check_at is not None and candidate.next_check_at > horizon:
            continue
        cost = candidate.cost(now, cadence)
        ceiling = candidate.at_ceiling(now, cadence)
        likely = candidate.chance_per_hour >= cadence.hot or candidate.last_checked_at is None
        if cost.live and not (likely or ceiling or cadence.always_live):
            waiting += 1
            continue
        due.append(candidate)
        costs[candidate.key] = cost
    ceiling = sorted(
        (c for c in due if c.at_ceiling(now, cadence)),
        key=lambda c: (c.last_checked_at or c.watched_since, c.marketplace, c.asin),
    )
    rest = [c for c in due if not c.at_ceiling(now, cadence)]
    pace = 0 if watched is None else math.ceil(watched * (cadence.run / cadence.ceiling))
    paced = sorted(
        (c for c in rest if not costs[c.key].live and c.last_checked_at is not None),
        key=lambda c: (c.last_checked_at, c.marketplace, c.asin),
    )[: max(pace - len(ceiling), 0)]
    keys = {c.key for c in paced}
    by_worth = sorted(
        (c for c in rest if c.key not in keys),
        key=lambda c: (-c.worth(now, costs[c.key]), -c.overdue(now, cadence), c.key),
    )
    chosen, spent, obliged = [], 0, 0
    for index, candidate in enumerate(ceiling + paced + by_worth):
        tokens = costs[candidate.key].tokens
        if budget is None or spent + tokens <= budget:
            chosen.append(candidate)
            spent += tokens
            obliged += tokens if index < len(ceiling) + len(paced) else 0
    taken = {c.key for c in chosen}
    return RunPlan(
        chosen=chosen,
        due=len(due),
        at_ceiling=len(ceiling),
        deferred=len(due) - len(chosen),
        ceiling_deferred=sum(c.key not in taken for c in ceiling),
        live=frozenset(c.key for c in chosen if costs[c.key].live),
        tokens=spent,
        waiting=waiting,
        obliged=obliged,
    )


def plan_per_hour(settings: ScheduleSettings, *, refill_per_minute: int | None) -> float | None:
    """Tokens per hour the tool may spend: Keepa's refill, or KEEPA_TOKENS_PER_HOUR when
    lower (or when Keepa's is unknown). None: unknown."""
    refill = None if refill_per_minute is None else refill_per_minute * 60
    rates = [rate for rate in (refill, settings.keepa_tokens_per_hour) if rate is not None]
    return float(min(rates)) if rates else None


def run_budget(
    *,
    per_hour: float | None,
    spent_last_hour: int,
    tokens_left: int | None,
    cadence: Cadence,
) -> int | None:
    """Tokens this run may spend on its product checks: its share of the hourly plan
    (`per_hour`), never more than what the last hour left of it (`spent_last_hour`: since
    `Cadence.spend_window`), nor than Keepa has now. None: no plan known."""
    left = hour_left(per_hour=per_hour, spent_last_hour=spent_last_hour, tokens_left=tokens_left)
    if per_hour is None or left is None:
        return None
    return min(math.ceil(per_hour * cadence.run_minutes / 60), left)


def hour_left(
    *, per_hour: float | None, spent_last_hour: int, tokens_left: int | None
) -> int | None:
    """What the last hour left of the hourly plan, no more than Keepa has now: the most
    one run may spend, a category's 50-token list included, though a run's share of the
    hour is smaller (the runs after it then have less). None: no plan known."""
    if per_hour is None:
        return None
    left = per_hour - spent_last_hour
    if tokens_left is not None:
        left = min(left, tokens_left)
    return max(int(left), 0)
