"""When each watched ASIN is checked next, and what one run checks, as pure functions.

Keepa charges one token per product looked up, whatever it returns, and every answer
carries the rank series since a given day: a check every N hours that asks for the last N
hours sees every rank point Keepa recorded in between. So checking less often makes a
change late, never lost. But Keepa answers from its cache: a product it refreshed less
than `update` hours ago (KEEPA_UPDATE_HOURS, Keepa's default 1) comes back as it was, and
that token buys nothing new, unless the request asks for live data (`update=0`), which
costs one more token while Keepa's data is under an hour old. So:

- a product's next plain check is on the first run after Keepa will refresh it on request
  (`lastUpdate` + `update` hours), or later, as its distance from #1 deserves: every run x
  (closest rank / near_rank), up to half the ceiling; a main rank that at least halved since
  the check before: within the hour;
- a product likely to cross #1 soon (rules/likelihood.py: at least as likely as one at
  near_rank with no history, holding #1 anywhere included) is a candidate every run: the
  run checks it plainly once Keepa's data is stale, and live (`update=0`) before that when
  the tokens are worth it;
- each run takes first the ASINs about to pass the ceiling, then its pace of the ceiling
  (watched x run / ceiling, the longest unchecked first: the far products stay spread over
  the day), then the rest by expected #1 changes seen per token (chance per hour x hours
  since Keepa last looked, over 1 or 2 tokens), as many as the run's budget allows.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bestseller_cli.models import ProductSnapshot, StoredState
from bestseller_cli.rules.likelihood import SEED_DAYS, Chance, near_prior

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# Keepa's clock and ours may differ a little: the window reaches this much further back.
CLOCK_MARGIN = timedelta(hours=1)
# A main rank at least this many times better than at the check before brings it forward.
MAIN_JUMP = 2
# Keepa refreshes a product older than this before answering, unless `update` says otherwise.
KEEPA_UPDATE = timedelta(hours=1)
# `update=0` costs one more token while Keepa's data is no older than this.
LIVE_EXTRA_UNTIL = timedelta(hours=1)
# Keepa's `lastUpdate` is to the minute: a plain check is planned a minute past the refresh.
KEEPA_MINUTE = timedelta(minutes=1)


class ScheduleSettings(Protocol):
    """The settings (config.Settings) the schedule reads, by name."""

    schedule_minutes: float
    check_ceiling_hours: float
    check_near_rank: int
    keepa_tokens_per_hour: int | None
    keepa_update_hours: int | None


@dataclass(frozen=True)
class Cadence:
    """The schedule's settings: how often cron runs `check` (SCHEDULE_MINUTES), the longest
    any ASIN waits (CHECK_CEILING_HOURS) and how near #1 is checked every run
    (CHECK_NEAR_RANK)."""

    run_minutes: float = 15.0
    ceiling_hours: float = 24.0
    near_rank: int = 3
    update_hours: int | None = None  # KEEPA_UPDATE_HOURS (None: Keepa's default, 1 h)

    @property
    def run(self) -> timedelta:
        return timedelta(minutes=self.run_minutes)

    @property
    def ceiling(self) -> timedelta:
        return timedelta(hours=self.ceiling_hours)

    @property
    def longest(self) -> timedelta:
        """The longest interval: half the ceiling, so that an ASIN due waits for the budget
        for up to half the ceiling more without ever passing it."""
        return max(self.ceiling / 2, self.run)

    @classmethod
    def of(cls, settings: ScheduleSettings) -> "Cadence":
        return cls(
            run_minutes=settings.schedule_minutes,
            ceiling_hours=settings.check_ceiling_hours,
            near_rank=settings.check_near_rank,
            update_hours=settings.keepa_update_hours,
        )

    @property
    def keepa_refresh(self) -> timedelta:
        """How old Keepa's data must be before a plain request refreshes it."""
        return KEEPA_UPDATE if self.update_hours is None else timedelta(hours=self.update_hours)

    @property
    def always_live(self) -> bool:
        """KEEPA_UPDATE_HOURS=0: the operator asks for live data on every request."""
        return self.update_hours == 0

    @property
    def hot(self) -> float:
        """The chance per hour from which a product is a candidate every run: that of a
        product at near_rank with no history."""
        return near_prior(self.near_rank)

    def tokens_per_check(self, interval: timedelta) -> int:
        """What a check every `interval` costs: checks sooner than Keepa refreshes on
        request ask for live data, one more token while Keepa's data is under an hour old."""
        if interval <= LIVE_EXTRA_UNTIL and (self.always_live or interval <= self.keepa_refresh):
            return 2
        return 1

    def fresh_at(self, keepa_updated_at: datetime | None) -> datetime | None:
        """When a plain request first gets a refreshed answer (None: now)."""
        if keepa_updated_at is None or self.always_live:
            return None
        return keepa_updated_at + self.keepa_refresh + KEEPA_MINUTE

    @property
    def spend_window(self) -> timedelta:
        """What a run counts as the last hour's spending: the runs of the hour before it, not
        the one an hour ago (its tokens leave any 60 minutes that hold this run)."""
        return HOUR - self.run / 2

    def horizon(self, now: datetime) -> datetime:
        """An ASIN is due in a run that starts at `now` when its next check is before this
        (runs are not on the second: the one nearest its time takes it)."""
        return now + self.run / 2


@dataclass(frozen=True)
class NextCheck:
    """How long until an ASIN's next check, and why, as `asins list` shows it."""

    interval: timedelta
    reason: str


def closest_rank(snapshot: ProductSnapshot, *, since: datetime | None) -> int | None:
    """The best rank the product had in any category now or at any point after `since`."""
    ranks = [entry.rank for entry in snapshot.category_ranks.values()]
    for points in snapshot.rank_series.values():
        ranks += [rank for at, rank in points if since is None or at > since]
    known = [rank for rank in ranks if rank is not None]
    return min(known, default=None)


def next_check(
    previous: StoredState | None,
    state: StoredState | None,
    snapshot: ProductSnapshot,
    *,
    main_before: int | None,
    cadence: Cadence,
    observed_at: datetime | None = None,
    chance: Chance | None = None,
) -> NextCheck:
    """The interval after a check at `observed_at` that led from `previous` to `state`
    (see the module); `chance`: the product's (rules/likelihood.py)."""
    interval = distance_interval(
        previous, state, snapshot, main_before=main_before, cadence=cadence
    )
    likely = chance is not None and chance.per_hour >= cadence.hot
    if likely or interval.interval <= cadence.run:
        why = f"{chance.next_hour:.0%} chance of a #1 change within the hour" if chance else ""
        reason = "; ".join(part for part in (interval.reason, why) if part)
        return NextCheck(cadence.run, f"{reason}: every run, live when it pays")
    fresh_at = cadence.fresh_at(snapshot.last_update)
    if fresh_at is None or observed_at is None or observed_at + interval.interval >= fresh_at:
        return interval
    return NextCheck(fresh_at - observed_at, f"Keepa's data refreshes at {fresh_at:%H:%M} UTC")


def distance_interval(
    previous: StoredState | None,
    state: StoredState | None,
    snapshot: ProductSnapshot,
    *,
    main_before: int | None,
    cadence: Cadence,
) -> NextCheck:
    """The interval its distance from #1 deserves, Keepa's cache aside."""
    if not snapshot.available or state is None:
        return NextCheck(cadence.longest, "no rank data on Keepa")
    if state.badges:
        return NextCheck(
            cadence.run,
            f"holds #1 in {len(state.badges)} categor{'ies' if len(state.badges) > 1 else 'y'}",
        )
    closest = closest_rank(snapshot, since=previous.checked_at if previous else None)
    if closest is None:
        return NextCheck(cadence.longest, "not ranked anywhere")
    if closest <= cadence.near_rank:
        return NextCheck(cadence.run, f"reached #{closest} in a category")
    interval = min(cadence.run * (closest / cadence.near_rank), cadence.longest)
    reason = f"closest rank #{closest:,}"
    main_after = snapshot.main_rank
    if main_before and main_after and main_after * MAIN_JUMP <= main_before and interval > HOUR:
        return NextCheck(
            max(HOUR, cadence.run), f"main rank jumped #{main_before:,} → #{main_after:,}"
        )
    return NextCheck(max(interval, cadence.run), reason)


def history_days(since: Iterable[datetime | None], *, now: datetime, least: int) -> int:
    """The `days` to ask Keepa for so that every series reaches back past the oldest of
    `since` (the checks before; None: never checked, whose first answer seeds its chance
    from `SEED_DAYS`), at least `least`."""
    moments = list(since)
    if any(moment is None for moment in moments):
        least = max(least, SEED_DAYS)
    oldest = min((moment for moment in moments if moment is not None), default=None)
    if oldest is None:
        return least
    return max(least, math.ceil((now - oldest + CLOCK_MARGIN) / DAY))


# --- one run's work -----------------------------------------------------------------------


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
    """Tokens this run may spend: its share of the hourly plan (`per_hour`), never more than
    what the last hour left of it (`spent_last_hour`: since `Cadence.spend_window`), nor
    than Keepa has now. None: no plan known."""
    if per_hour is None:
        return None
    allowed = min(math.ceil(per_hour * cadence.run_minutes / 60), per_hour - spent_last_hour)
    if tokens_left is not None:
        allowed = min(allowed, tokens_left)
    return max(int(allowed), 0)


# --- the forecast: what the plan buys --------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    """The watch list against the plan: ASINs per interval, the tokens per hour they need,
    what the ceiling alone needs, and the longest a change can wait to be seen."""

    per_interval: list[tuple[timedelta, int]]
    watched: int
    tokens_per_hour: float
    ceiling_tokens_per_hour: float
    plan_per_hour: float | None
    longest_wait: timedelta | None  # None: never (the plan gives no tokens)
    ceiling: timedelta
    run: timedelta

    @property
    def fits(self) -> bool:
        return self.plan_per_hour is None or self.tokens_per_hour <= self.plan_per_hour

    @property
    def covers_ceiling(self) -> bool:
        return self.plan_per_hour is None or self.ceiling_tokens_per_hour <= self.plan_per_hour

    def describe(self) -> str:
        """`540 ASINs: 54 every run, 60 within 1 h, 426 within 12 h; they need 310 tokens/h,
        the plan gives 1,200; a change waits at most 12 h 15 min to be seen`."""
        bounds = [("every run", self.run), ("within 1 h", HOUR), ("within 6 h", 6 * HOUR)]
        longest = max((interval for interval, _ in self.per_interval), default=self.run)
        bounds.append((f"within {span(longest)}", longest))
        counts = dict.fromkeys([label for label, _ in bounds], 0)
        for interval, count in self.per_interval:
            counts[next(label for label, bound in bounds if interval <= bound)] += count
        classes = ", ".join(f"{count:,} {label}" for label, count in counts.items() if count)
        plan = (
            f"the plan gives {self.plan_per_hour:,.0f}"
            if self.plan_per_hour is not None
            else "the plan is unknown"
        )
        waits = f"at most {span(self.longest_wait)}" if self.longest_wait else "forever"
        return (
            f"{self.watched:,} ASINs watched: {classes or 'none'}; they need"
            f" {self.tokens_per_hour:,.0f} tokens/h, {plan}; a change waits {waits} to be seen"
        )

    def too_small(self) -> str | None:
        """What a plan too small for the ceiling can watch, and at which interval."""
        if self.covers_ceiling or self.plan_per_hour is None:
            return None
        can_watch = int(self.plan_per_hour * (self.ceiling / HOUR))
        every = f"only about every {span(self.longest_wait)}" if self.longest_wait else "never"
        return (
            f"the plan ({self.plan_per_hour:,.0f} tokens/h) can check each of the"
            f" {self.watched:,} watched ASINs {every}; once per {self.ceiling / HOUR:g} h"
            f" (CHECK_CEILING_HOURS) it can watch {can_watch:,} ASINs"
        )


def forecast(
    intervals: Counter[timedelta],
    *,
    watched: int,
    plan_per_hour: float | None,
    cadence: Cadence,
) -> Forecast:
    """`intervals`: the watched ASINs' current intervals (those never checked count as
    every run); those shorter than Keepa's refresh cost live data's two tokens a check.
    When the plan is short, every interval stretches alike (plan_run's most
    overdue first), up to the ceiling while the plan covers it."""
    counts = intervals + Counter({cadence.run: max(watched - sum(intervals.values()), 0)})
    need = sum(
        count * HOUR / max(interval, cadence.run) * cadence.tokens_per_check(interval)
        for interval, count in counts.items()
    )
    floor = watched * HOUR / cadence.ceiling
    longest: timedelta | None = max(counts, default=cadence.run)
    if plan_per_hour == 0 and need:
        longest = None
    elif plan_per_hour and need > plan_per_hour:
        longest = min(max(counts) * (need / plan_per_hour), cadence.ceiling)
        if floor > plan_per_hour:  # not even the ceiling: each ASIN in turn
            longest = HOUR * watched / plan_per_hour
    return Forecast(
        per_interval=sorted(counts.items()),
        watched=watched,
        tokens_per_hour=need,
        ceiling_tokens_per_hour=floor,
        plan_per_hour=plan_per_hour,
        longest_wait=longest and longest + cadence.run,
        ceiling=cadence.ceiling,
        run=cadence.run,
    )


def span(moment: timedelta) -> str:
    """`15 min`, `1 h 30 min`, `12 h`, `2.5 d`."""
    minutes = round(moment.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes / 1440:.1f} d"
