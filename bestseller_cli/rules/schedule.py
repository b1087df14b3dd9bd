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
from collections.abc import Iterable
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
