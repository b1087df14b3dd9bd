"""When each watched ASIN is checked next, and what one run checks, as pure functions.

Keepa charges one token per product looked up, whatever it returns, and every answer
carries the rank series since a given day: a check every N hours that asks for the last N
hours sees every rank point Keepa recorded in between. So checking less often makes a
change late, never lost, and the plan goes further by checking each ASIN as often as its
distance from #1 deserves:

- holding #1 anywhere, or within `near_rank` of it in some category: every run;
- otherwise every run x (closest rank / near_rank), where the closest rank is the best it
  reached in any category since the check before (a calm history keeps it far), up to half
  the ceiling; a main rank that at least halved since the check before: within the hour;
- due ASINs are checked most overdue first (time since the last check over the interval),
  those about to pass the ceiling before all others, as many as the run's budget allows.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bestseller_cli.models import ProductSnapshot, StoredState

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
# Keepa's clock and ours may differ a little: the window reaches this much further back.
CLOCK_MARGIN = timedelta(hours=1)
# A main rank at least this many times better than at the check before brings it forward.
MAIN_JUMP = 2


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
        )

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
) -> NextCheck:
    """The interval after a check that led from `previous` to `state` (see the module)."""
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
    `since` (the checks before; None: never checked), at least `least`."""
    oldest = min((moment for moment in since if moment is not None), default=None)
    if oldest is None:
        return least
    return max(least, math.ceil((now - oldest + CLOCK_MARGIN) / DAY))


# --- one run's work -----------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A watched ASIN that may be due: its last check (None: never), its next one, since
    when it is watched, and since when its rank series must reach back (`since`: the last
    check or Keepa's data then, whichever is older)."""

    marketplace: str
    asin: str
    last_checked_at: datetime | None
    next_check_at: datetime | None
    watched_since: datetime
    since: datetime | None = None

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


@dataclass(frozen=True)
class RunPlan:
    """What one run checks, in order, out of what is due."""

    chosen: list[Candidate]
    due: int  # ASINs due this run
    at_ceiling: int  # of them, about to wait past the ceiling
    deferred: int  # due, but past this run's budget: the next run takes them first
    ceiling_deferred: int  # at the ceiling and past the budget: the plan is too small


def plan_run(
    candidates: Sequence[Candidate], *, now: datetime, budget: int | None, cadence: Cadence
) -> RunPlan:
    """The due candidates, those at the ceiling first (longest unchecked first), then the
    most overdue, as many as `budget` (None: all)."""
    horizon = cadence.horizon(now)
    due = [c for c in candidates if c.next_check_at is None or c.next_check_at <= horizon]
    ceiling = sorted(
        (c for c in due if c.at_ceiling(now, cadence)),
        key=lambda c: (c.last_checked_at or c.watched_since, c.marketplace, c.asin),
    )
    rest = sorted(
        (c for c in due if not c.at_ceiling(now, cadence)),
        key=lambda c: (-c.overdue(now, cadence), c.marketplace, c.asin),
    )
    ordered = ceiling + rest
    chosen = ordered if budget is None else ordered[: max(budget, 0)]
    return RunPlan(
        chosen=chosen,
        due=len(due),
        at_ceiling=len(ceiling),
        deferred=len(ordered) - len(chosen),
        ceiling_deferred=max(len(ceiling) - len(chosen), 0),
    )


def plan_per_hour(settings: ScheduleSettings, *, refill_per_minute: int | None) -> float | None:
    """Tokens per hour the tool may spend: Keepa's refill, or KEEPA_TOKENS_PER_HOUR when
    lower (or when Keepa's is unknown). None: unknown."""
    refill = None if refill_per_minute is None else refill_per_minute * 60
    rates = [rate for rate in (refill, settings.keepa_tokens_per_hour) if rate is not None]
    return float(min(rates)) if rates else None


def tokens_per_asin(settings: ScheduleSettings) -> int:
    """KEEPA_UPDATE_HOURS: a refreshed product can cost one more token (Keepa's docs)."""
    return 1 if settings.keepa_update_hours is None else 2


def run_budget(
    *,
    per_hour: float | None,
    spent_last_hour: int,
    tokens_left: int | None,
    tokens_per_asin: int,
    cadence: Cadence,
) -> int | None:
    """ASINs this run may check: its share of the hourly plan (`per_hour`), never more than
    what the last hour left of it (`spent_last_hour`: since `Cadence.spend_window`), nor
    than Keepa has now. None: no plan known."""
    if per_hour is None:
        return None
    allowed = min(math.ceil(per_hour * cadence.run_minutes / 60), per_hour - spent_last_hour)
    if tokens_left is not None:
        allowed = min(allowed, tokens_left)
    return max(int(allowed) // tokens_per_asin, 0)


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
    tokens_per_asin: int = 1

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
        can_watch = int(self.plan_per_hour * (self.ceiling / HOUR) / self.tokens_per_asin)
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
    tokens_per_asin: int = 1,
) -> Forecast:
    """`intervals`: the watched ASINs' current intervals (those never checked count as
    every run). When the plan is short, every interval stretches alike (plan_run's most
    overdue first), up to the ceiling while the plan covers it."""
    counts = intervals + Counter({cadence.run: max(watched - sum(intervals.values()), 0)})
    need = tokens_per_asin * sum(count * HOUR / interval for interval, count in counts.items())
    floor = tokens_per_asin * watched * HOUR / cadence.ceiling
    longest: timedelta | None = max(counts, default=cadence.run)
    if plan_per_hour == 0 and need:
        longest = None
    elif plan_per_hour and need > plan_per_hour:
        longest = min(max(counts) * (need / plan_per_hour), cadence.ceiling)
        if floor > plan_per_hour:  # not even the ceiling: each ASIN in turn
            longest = HOUR * watched * tokens_per_asin / plan_per_hour
    return Forecast(
        per_interval=sorted(counts.items()),
        watched=watched,
        tokens_per_hour=need,
        ceiling_tokens_per_hour=floor,
        plan_per_hour=plan_per_hour,
        longest_wait=longest and longest + cadence.run,
        ceiling=cadence.ceiling,
        run=cadence.run,
        tokens_per_asin=tokens_per_asin,
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
