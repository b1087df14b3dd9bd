"""How likely a product is to cross #1 within the next hour, from what Keepa's answers
already carry (no token): how often it crossed lately, how far from #1 it is now, and
whether it is moving towards it. The schedule spends each run's tokens where the expected
number of changes seen per token is highest (rules/schedule.py).

- **Lately**: an exponentially weighted count of #1 crossings (gained or lost, in any
  category), a time constant of `MEMORY` (3 days): each crossing adds 1/`MEMORY`, the sum
  decays with time, so a product that crossed twice a day keeps a rate of about 2 a day. The
  first check seeds it from the whole series Keepa sent (`SEED_DAYS` of it).
- **Now**: a product this near #1 crosses about as often as `NEAR_PRIOR` says, whatever its
  history (a newcomer at #2 has none): 1 a day at #1 or #2, falling with the square of the
  distance (#3: 0.44 a day, #10: 0.04, #100: 0.0004).
- **Moving**: a best rank at least twice as good as at the check before doubles the chance.

The estimate is the larger of lately and now, doubled when moving; `Chance.why` says which.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bestseller_cli.models import ProductSnapshot

MEMORY = timedelta(days=3)
SEED_DAYS = 7  # the days of history a product's first check asks for, to seed the rate
HOUR = timedelta(hours=1)
NEAR_PRIOR_PER_DAY = 1.0  # crossings a day expected at #1 or #2 without history
RISING = 2  # a best rank this many times better than before doubles the chance


@dataclass(frozen=True)
class Chance:
    """Expected #1 crossings per hour (`per_hour`), the history's part of it (`lately`, the
    weighted rate carried from check to check) and why, in a few words."""

    per_hour: float
    lately: float
    why: str

    @property
    def next_hour(self) -> float:
        """The probability of at least one crossing within the hour."""
        return 1 - math.exp(-self.per_hour)


NO_CHANCE = Chance(per_hour=0.0, lately=0.0, why="no rank on Keepa")


def near_prior(rank: int | None) -> float:
    """Crossings per hour expected at this best rank without any history."""
    if rank is None:
        return 0.0
    return NEAR_PRIOR_PER_DAY / 24 * min(1.0, (2 / rank) ** 2)


def crossings(snapshot: ProductSnapshot, *, after: datetime | None) -> int:
    """#1 crossings in the rank series after `after` (None: the whole series), each against
    the rank before it (the last point before `after` included)."""
    count = 0
    for points in snapshot.rank_series.values():
        held: bool | None = None
        for at, rank in points:
            top = rank == 1
            if held is not None and top != held and (after is None or at > after):
                count += 1
            if rank is not None:
                held = top
    return count


def series_span(snapshot: ProductSnapshot, *, now: datetime) -> timedelta:
    """How far back the series reach (at least a day: a short answer is a quiet one)."""
    starts = [points[0][0] for points in snapshot.rank_series.values() if points]
    return max(now - min(starts, default=now), timedelta(days=1))


def best_rank(snapshot: ProductSnapshot) -> int | None:
    ranks = [entry.rank for entry in snapshot.category_ranks.values() if entry.rank]
    return min(ranks, default=None)


def estimate(
    snapshot: ProductSnapshot,
    *,
    lately_before: float | None,
    checked_before: datetime | None,
    best_before: int | None,
    now: datetime,
) -> Chance:
    """The chance after a check at `now`; `lately_before`, `checked_before`, `best_before`:
    the rate, time and best rank of the check before (None: a first check)."""
    if not snapshot.available:
        return NO_CHANCE
    if lately_before is None or checked_before is None:
        seen = crossings(snapshot, after=None)
        lately = seen / (series_span(snapshot, now=now) / HOUR)
    else:
        seen = crossings(snapshot, after=checked_before)
        decay = math.exp(-max(now - checked_before, timedelta(0)) / MEMORY)
        lately = lately_before * decay + seen / (MEMORY / HOUR)
    best = best_rank(snapshot)
    prior = near_prior(best)
    rising = bool(best and best_before and best * RISING <= best_before)
    per_hour = max(lately, prior) * (RISING if rising else 1)
    parts = [f"{lately * 24:.2g} crossings/day lately" if lately else "no crossing lately"]
    parts.append(f"best #{best:,} now" if best else "not ranked")
    if rising:
        parts.append(f"up from #{best_before:,}")
    return Chance(per_hour=per_hour, lately=lately, why=", ".join(parts))
