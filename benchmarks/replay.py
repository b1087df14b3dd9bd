"""Replay real rank histories through the schedule and the badge rules: a week of 15-minute
runs on plans of 100/50/33/20 % of what hourly checks of every ASIN need, with Keepa's cache
(`--keepa cache`, benchmarks/keepa_cache.py) or with a Keepa always live (`--keepa live`).

    python -m benchmarks.replay [--asins 540] [--near-share 0.1] [--days 7] [--keepa cache,live]
    PYTHONPATH=<an older release> python -m benchmarks.replay --label before

The watch list is an agency's: a minority of products near #1, most far from it, each a
real series (`../shared/data/keepa-real/`, `../shared/data/rank-histories/`) replayed from
a start of its own (one series makes several products). What runs is the pure functions the
pass runs, with a controlled clock: `rules/schedule.py` (next check, the run's plan, its
budget, the `days` asked), `rules/likelihood.py` (each product's chance of a crossing) and
`rules/badges.observe` (the walk through the series). Keepa is a token bucket (capacity one
hour of refill, served while positive) answering each product with its series trimmed to
`days` as Keepa does: with its cache, as of its last refresh, with the points it recorded
when it refreshed; always live, the whole series up to now. Not the database, Slack or
HTTP: their clocks are the machine's, and their cost per ASIN is what `benchmarks/run.py`
measures. The rules are imported from wherever `bestseller_cli` is found, so an older
release's run under the same model (`--label before`) is the before column; functions are
called with the arguments they take.

A change is one crossing of #1 in a category's series (Amazon's ranks, as Keepa recorded
them in the data); those of days 1 to 1 + `--days` are counted (day 0 is the first checks,
one more day lets the last ones be seen). A change is alerted when a check records a
crossing of the same kind in the same category at or after it, with no other such crossing
between: one Keepa never saw (a flip shorter than the gaps between its looks) is not.
"""

import argparse
import inspect
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.histories import BATCH, CADENCE, DAY, NEAR, START, Product, watch_list
from benchmarks.keepa_cache import KeepaCache
from benchmarks.replay_table import Outcome, pooled_lists, summary, table
from benchmarks.report import machine
from bestseller_cli.keepa.payload import keepa_time
from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import StoredState
from bestseller_cli.rules.badges import observe
from bestseller_cli.rules.likelihood import best_rank, estimate, near_prior
from bestseller_cli.rules.schedule import history_days, next_check

try:
    from bestseller_cli.rules.run_plan import Candidate, plan_run, run_budget
except ImportError:  # a release before issue 36 (the before column) kept them in schedule.py
    from bestseller_cli.rules.schedule import Candidate, plan_run, run_budget
from fakes.keepa_payloads import keepa_minute

if TYPE_CHECKING:  # imported where used: an older release (the before column) has no lists
    from benchmarks.category_lists import Lists


class Keepa:
    """A token bucket: refills `per_hour`/60 a minute up to one hour's worth, serves a
    request while positive (it may go negative, as Keepa's does)."""

    def __init__(self, per_hour: float) -> None:
        self.per_hour, self.left, self.at = per_hour, per_hour, keepa_minute(START)

    def refill(self, minute: int) -> None:
        self.left = min(self.per_hour, self.left + (minute - self.at) * self.per_hour / 60)
        self.at = minute

    def take(self, tokens: int) -> bool:
        if self.left <= 0:
            return False
        self.left -= tokens
        return True


def accepted(function, **kwargs):
    """Call `function` with the keyword arguments it takes: the replay runs this code's
    rules and, for the before column, an older release's (`--label before` with PYTHONPATH
    on it), whose functions take fewer."""
    names = inspect.signature(function).parameters
    return function(**{k: v for k, v in kwargs.items() if k in names})


@dataclass
class Watch:
    """What the pass knows of one product between runs."""

    state: StoredState | None = None
    last: int | None = None  # minute of our last check
    due: int | None = None
    keepa_seen: int | None = None  # Keepa's lastUpdate in our last answer
    lately: float | None = None
    best: int | None = None


def replay(
    products: list[Product],
    *,
    per_hour: float,
    days: int,
    cached: bool,
    lists: "Lists | None" = None,
) -> Outcome:
    start, end = keepa_minute(START), keepa_minute(START) + (days + 2) * DAY
    measured = (start + DAY, start + (days + 1) * DAY)
    keepa, outcome = Keepa(per_hour), Outcome()
    cache = KeepaCache(products) if cached else None
    watches = {p.asin: Watch() for p in products}
    seen: dict[tuple[str, int, ChangeKind, int], int] = {}  # change -> minute alerted
    window: deque[tuple[int, int]] = deque()  # what the budget counts as the last hour's
    spent: list[tuple[int, int]] = []  # every request: (minute, tokens)
    by_asin = {p.asin: p for p in products}
    for minute in range(start, end, CADENCE.run_minutes):
        keepa.refill(minute)
        now = keepa_time(minute)
        while window and window[0][0] < minute - CADENCE.spend_window.total_seconds() / 60:
            window.popleft()
        counted = measured[0] <= minute < measured[1]
        run = plan(products, watches, minute, keepa, window, per_hour, lists, counted)
        for asins, live in run:
            batch = [by_asin[a] for a in asins]
            costs = [
                cache.request(p, minute, update_hours=0 if live else 1)[0] if cache else 1
                for p in batch
            ]
            tokens = sum(costs)
            served, retries = keepa.take(tokens), 3
            while not served and retries:  # 429: the client waits for the next refill
                retries -= 1
                keepa.refill(keepa.at + 1)
                served = keepa.take(tokens)
            if not served:  # out of tokens: the pass stops; the next one starts again
                break
            window.append((minute, tokens))
            spent.append((minute, tokens))
            since = [keepa_time(watches[p.asin].last) if watches[p.asin].last else None
                     for p in batch]  # fmt: skip
            asked = history_days(since, now=now, least=1)
            for product, cost in zip(batch, costs, strict=True):
                snapshot = (
                    cache.answer(product, asked, at=minute)
                    if cache
                    else product.snapshot(minute, asked, with_series=True)
                )
                fresh = observe_answer(product, snapshot, watches[product.asin], minute, seen)
                if measured[0] <= minute < measured[1]:
                    outcome.tokens += cost
                    outcome.cached_tokens += 0 if fresh else cost
                    outcome.live_tokens += cost if live else 0
                watch = watches[product.asin]
                if watch.last is not None and minute > measured[0]:
                    outcome.longest_wait = max(outcome.longest_wait, minute - watch.last)
                watch.last = minute
        for cost in lists.fetch(minute, measured=counted) if lists else []:
            if keepa.take(cost):  # the lists come after the product batches
                window.append((minute, cost))
                spent.append((minute, cost))
    outcome.most_in_60_min = most_in_an_hour(spent)
    for product in products:  # and those still waiting at the end, never checked again
        waited = end - (watches[product.asin].last or start)
        outcome.longest_wait = max(outcome.longest_wait, waited)
    for product in products:
        near = (product.best_before() or 10**9) <= NEAR
        truth = product.crossings(*measured)
        for category, kind, at in truth:
            alerted = alert_of(seen, product.asin, category, kind, at, truth)
            delay = None if alerted is None else alerted - at
            outcome.delays.append((delay, near, lasted(product, category, at)))
    return outcome


def plan(
    products, watches, minute, keepa, window, per_hour, lists, measured
) -> list[tuple[list[str], bool]]:
    """The run's batches as the pass plans them: (ASINs, live); the categories' lists held
    out of what the run can spare, when there are any."""
    now = keepa_time(minute)
    candidates = []
    for product in products:
        watch = watches[product.asin]
        fields = {
            "marketplace": "com",
            "asin": product.asin,
            "last_checked_at": keepa_time(watch.last) if watch.last is not None else None,
            "next_check_at": keepa_time(watch.due) if watch.due is not None else None,
            "watched_since": START,
            "keepa_updated_at": keepa_time(watch.keepa_seen) if watch.keepa_seen else None,
            "chance_per_hour": max(watch.lately or 0.0, near_prior(watch.best)),
        }
        candidates.append(accepted(Candidate, **fields))
    tokens = accepted(
        run_budget,
        per_hour=per_hour,
        spent_last_hour=sum(t for _, t in window),
        tokens_left=int(keepa.left),
        cadence=CADENCE,
    )
    reserve = min(20, tokens // 10)  # the pass keeps a tenth for category names
    budget = tokens - reserve
    chosen = accepted(
        plan_run, candidates=candidates, now=now, budget=budget, cadence=CADENCE,
        watched=len(products),
    )  # fmt: skip
    if lists:  # as check/work.py: out of what the hour has left, past the ceiling's share
        hour = min(per_hour - sum(t for _, t in window), keepa.left)
        spare = max(int(hour) - reserve - chosen.obliged, 0)
        held = lists.hold(minute, spare=spare, per_hour=per_hour, measured=measured)
        if held:
            chosen = plan_run(candidates=candidates, now=now, cadence=CADENCE,
                              budget=max(budget - held, chosen.obliged),
                              watched=len(products))  # fmt: skip
    live = getattr(chosen, "live", frozenset())
    batches = []
    for flag in (False, True):
        asins = [c.asin for c in chosen.chosen if (("com", c.asin) in live) == flag]
        batches += [(asins[i : i + BATCH], flag) for i in range(0, len(asins), BATCH)]
    return batches


def observe_answer(product, snapshot, watch: Watch, minute: int, seen) -> bool:
    """Walk one answer, note the changes it alerts, plan the product's next check; whether
    the answer brought a new observation (False: Keepa answered from its cache)."""
    now = keepa_time(minute)
    fresh = watch.keepa_seen is None or keepa_minute(snapshot.last_update) > watch.keepa_seen
    previous = watch.state
    result = observe(previous, snapshot, observed_at=now)
    for change in result.changes:
        at = keepa_minute(change.changed_at)
        seen.setdefault((product.asin, change.category_id, change.kind, at), minute)
    main_before = previous.category_ranks.get(snapshot.main_category_id or -1) if previous else None
    chance = estimate(
        snapshot,
        lately_before=watch.lately,
        checked_before=keepa_time(watch.last) if watch.last is not None else None,
        best_before=watch.best,
        now=now,
    )
    interval = accepted(
        next_check, previous=previous, state=result.state, snapshot=snapshot,
        main_before=main_before.rank if main_before else None, cadence=CADENCE,
        observed_at=now, chance=chance,
    ).interval  # fmt: skip
    watch.state, watch.lately, watch.best = result.state, chance.lately, best_rank(snapshot)
    watch.keepa_seen = keepa_minute(snapshot.last_update) if snapshot.last_update else None
    watch.due = minute + int(interval.total_seconds() // 60)
    return fresh


def lasted(product: Product, category: int, at: int) -> int | None:
    """How long the state a crossing led to lasted, in minutes (None: past the replay)."""
    after = [t for c, _, t in product.crossings(at, at + 30 * DAY) if c == category and t > at]
    return (after[0] - at) if after else None


def most_in_an_hour(spent: list[tuple[int, int]]) -> int:
    """The most tokens any 60 minutes [t, t + 60) spent, Keepa's debt included."""
    most, total, first = 0, 0, 0
    for minute, tokens in spent:
        total += tokens
        while spent[first][0] <= minute - 60:
            total -= spent[first][1]
            first += 1
        most = max(most, total)
    return most


def alert_of(seen, asin: str, category: int, kind: ChangeKind, at: int, truth) -> int | None:
    """When this crossing was alerted: by the first recorded crossing of its kind in its
    category at or after it, unless another crossing of that kind came between (then Keepa
    saw only the later one)."""
    recorded = sorted(
        (t, m) for (a, c, k, t), m in seen.items() if a == asin and c == category and k == kind
    )
    first = next(((t, m) for t, m in recorded if t >= at), None)
    if first is None:
        return None
    between = [t for c, k, t in truth if c == category and k == kind and at < t <= first[0]]
    return None if between else first[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--asins", type=int, default=540)
    parser.add_argument("--near-share", type=float, default=0.1)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seeds", default="25,26,27", help="one watch list per seed, pooled")
    parser.add_argument("--plans", default="1,0.5,0.33,0.2")
    parser.add_argument("--keepa", default="cache,live", help="Keepa's models: cache, live")
    parser.add_argument("--label", default="after", help="the design's name in the table")
    parser.add_argument("--categories", type=int, default=0, help="watched categories")
    parser.add_argument("--category-every", type=float, default=4.0, help="hours")
    parser.add_argument("--category-share", type=float, default=0.1)
    parser.add_argument(
        "--plan-extra", type=float, default=0.0, help="added to each plan: 0.1 for +10 %%"
    )
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "replay.json"
    )
    args = parser.parse_args()
    if args.categories:
        from benchmarks.category_lists import Lists
    lists = [watch_list(args.asins, args.near_share, int(seed)) for seed in args.seeds.split(",")]
    near = sum((p.best_before() or 10**9) <= NEAR for products in lists for p in products)
    results = []
    for model in args.keepa.split(","):
        for fraction in [float(f) for f in args.plans.split(",")]:
            per_hour = round(args.asins * fraction * (1 + args.plan_extra))
            pooled, categories = Outcome(), []
            for products in lists:
                watched = Lists.of(
                    args.categories, every_hours=args.category_every, share=args.category_share
                ) if args.categories else None  # fmt: skip
                outcome = replay(
                    products, per_hour=per_hour, days=args.days, cached=model == "cache",
                    lists=watched,
                )  # fmt: skip
                if watched:
                    categories.append(watched.per_category_per_day(args.days))
                pooled.delays += outcome.delays
                pooled.most_in_60_min = max(pooled.most_in_60_min, outcome.most_in_60_min)
                pooled.tokens += outcome.tokens
                pooled.cached_tokens += outcome.cached_tokens
                pooled.live_tokens += outcome.live_tokens
                pooled.longest_wait = max(pooled.longest_wait, outcome.longest_wait)
            row = {"plan": fraction, "design": args.label, "keepa": model}
            asins = args.asins * len(lists)
            row |= summary(pooled, asins=asins, days=args.days, per_hour=per_hour)
            if categories:
                row["design"] += f" + {args.categories} categories every {args.category_every:g} h"
                row["categories"] = pooled_lists(categories)
            results.append(row)
            print(json.dumps(row), flush=True)
    record = {
        "asins": args.asins,
        "watch_lists": len(lists),
        "near": near,
        "days": args.days,
        "seeds": args.seeds,
        "machine": machine(postgres=None),
        "results": results,
    }
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
