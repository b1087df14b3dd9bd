"""Watched categories in the replay (benchmarks/replay.py `--categories N`): each due list
costs 50 tokens from the same bucket, within CATEGORY_PLAN_SHARE of the plan over 24 hours,
out of what a run can spare once its ASINs at the ceiling and its pace are paid for, before
the live refreshes: what `check/work.py` and `check/category_watch.py` do, with the pure
functions they call (`rules/category_watch.py`, `RunPlan.spare`). What a list says is not
modelled: only what the lists cost the product checks, and how often each is fetched.
"""

from collections import Counter, deque
from dataclasses import dataclass, field, replace

from benchmarks.histories import CADENCE, DAY, START
from bestseller_cli.keepa.payload import keepa_time
from bestseller_cli.rules.category_watch import (
    ASSUMED_LIST_COST,
    WatchedCategory,
    next_check,
    plan_categories,
    share_left,
)

SHARE_WINDOW = DAY  # minutes: the share is counted over the last 24 h of lists


@dataclass
class Lists:
    """The watched categories of one replay, what their lists cost and when each was
    fetched (minutes) and stretched."""

    every_hours: float
    share: float
    watched: list[WatchedCategory] = field(default_factory=list)
    spent: deque[tuple[int, int]] = field(default_factory=deque)  # (minute, tokens)
    fetched: Counter[int] = field(default_factory=Counter)  # category -> lists, measured days
    stretched: int = 0  # times a due list waited for a later run, measured days
    held: list[WatchedCategory] = field(default_factory=list)  # this run's lists

    @classmethod
    def of(cls, count: int, *, every_hours: float, share: float) -> "Lists":
        watched = [
            WatchedCategory("com", 9_000_000 + n, every_hours=every_hours, added_at=START)
            for n in range(count)
        ]
        return cls(every_hours=every_hours, share=share, watched=watched)

    def hold(self, minute: int, *, spare: int | None, per_hour: float, measured: bool) -> int:
        """Plan this run's lists out of `spare`; the tokens the product checks leave for
        them (this run's lists, or the next one's while the hour saves up for it)."""
        now = keepa_time(minute)
        horizon = now + CADENCE.run / 2
        due = [w for w in self.watched if w.next_check_at is None or w.next_check_at <= horizon]
        while self.spent and self.spent[0][0] <= minute - SHARE_WINDOW:
            self.spent.popleft()
        left = share_left(
            share=self.share,
            plan_per_hour=per_hour,
            spent_last_day=sum(tokens for _, tokens in self.spent),
        )
        plan = plan_categories(
            due, tokens_free=spare, share_left=left, now=now, retry_after=CADENCE.run
        )
        stretched = {w.category_id: at for w, at in plan.stretched}
        self.watched = [
            replace(w, next_check_at=stretched[w.category_id]) if w.category_id in stretched else w
            for w in self.watched
        ]
        self.stretched += len(plan.stretched) if measured else 0
        self.held = list(plan.fetch)
        return plan.kept_back

    def fetch(self, minute: int, *, measured: bool) -> list[int]:
        """The lists held for this run, fetched: the tokens of each."""
        now = keepa_time(minute)
        fetched = {w.category_id for w in self.held}
        self.watched = [
            replace(w, next_check_at=next_check(w, now=now), last_checked_at=now)
            if w.category_id in fetched
            else w
            for w in self.watched
        ]
        for category in fetched:
            self.spent.append((minute, ASSUMED_LIST_COST))
            self.fetched[category] += 1 if measured else 0
        self.held = []
        return [ASSUMED_LIST_COST] * len(fetched)

    def per_category_per_day(self, days: int) -> dict[str, float]:
        lists = [self.fetched[w.category_id] / days for w in self.watched]
        return {
            "categories": len(self.watched),
            "every_h": self.every_hours,
            "configured_lists_per_day": round(24 / self.every_hours, 2),
            "lists_per_day_min": round(min(lists, default=0), 2),
            "lists_per_day_max": round(max(lists, default=0), 2),
            "tokens_per_category_per_day": round(
                ASSUMED_LIST_COST * sum(lists) / max(len(lists), 1), 1
            ),
            "stretched_per_day": round(self.stretched / days, 2),
        }
