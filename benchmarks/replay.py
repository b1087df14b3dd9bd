"""Replay real rank histories through the schedule and the badge rules, a week of 15-minute
runs on plans of 100/50/33/20 % of what hourly full checks need, for this design and for
the behaviour before it.

    python -m benchmarks.replay [--asins 540] [--near-share 0.1] [--days 7] [--seed 25]

The watch list is an agency's: a minority of products near #1, most far from it, each a
real series (`../shared/data/keepa-real/`, `../shared/data/rank-histories/`) replayed from
a start of its own (one series makes several products). What runs is the pure functions the
pass runs, with a controlled clock: `rules/schedule.py` (next check, the run's plan, its
budget, the `days` asked) and `rules/badges.observe` (the walk through the series); Keepa is
a token bucket (capacity one hour of refill, served while positive) answering each product
with its series up to now, trimmed to `days` as Keepa does. Not the database, Slack or HTTP:
their clocks are the machine's (runs, resume windows, sent times), and their cost per ASIN
is what `benchmarks/run.py` measures. Before this design, a pass ran hourly over every ASIN
in key order until Keepa ran out (then waited for three refills and stopped; the next
hour's pass started again at the first ASIN, past the resume window) and compared only the
rank now with the one stored: `observe` on a snapshot without its series does exactly that.

A change is one crossing of #1 in a category's series; those of days 1 to 1 + `--days` are
counted (day 0 is the first checks, one more day lets the last ones be seen). A change is
alerted when a check records it: with the walk every crossing, at its own time; before, the
check that finds the badge different alerts the last crossing since the check before.
"""

import argparse
import json
import statistics
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.histories import BATCH, CADENCE, DAY, NEAR, START, Product, watch_list
from benchmarks.report import machine
from bestseller_cli.keepa.payload import keepa_time
from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import StoredState
from bestseller_cli.rules.badges import observe
from bestseller_cli.rules.schedule import (
    Candidate,
    history_days,
    next_check,
    plan_run,
    run_budget,
)
from fakes.keepa_payloads import keepa_minute


@dataclass
class Outcome:
    """What one replay saw: each change's delay to its alert in minutes (None: never
    alerted) and whether its product was near #1, the tokens spent, and the longest an ASIN
    waited unchecked (minutes, from day 1)."""

    delays: list[tuple[float | None, bool]] = field(default_factory=list)
    tokens: int = 0  # spent on the measured days
    most_in_60_min: int = 0  # the most any 60 minutes spent
    longest_wait: int = 0


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


def replay(products: list[Product], *, per_hour: float, days: int, scheduled: bool) -> Outcome:
    start, end = keepa_minute(START), keepa_minute(START) + (days + 2) * DAY
    measured = (start + DAY, start + (days + 1) * DAY)
    keepa, outcome = Keepa(per_hour), Outcome()
    states: dict[str, StoredState | None] = {p.asin: None for p in products}
    last: dict[str, int] = {}
    due: dict[str, int | None] = {p.asin: None for p in products}
    seen: dict[tuple[str, int, ChangeKind, int], int] = {}  # change -> minute alerted
    window: deque[tuple[int, int]] = deque()  # what the budget counts as the last hour's
    spent: list[tuple[int, int]] = []  # every request: (minute, tokens)
    step = 15 if scheduled else 60
    for minute in range(start, end, step):
        keepa.refill(minute)
        now = keepa_time(minute)
        while window and window[0][0] < minute - CADENCE.spend_window.total_seconds() / 60:
            window.popleft()
        if scheduled:
            candidates = [
                Candidate("com", p.asin, keepa_time(last[p.asin]) if p.asin in last else None,
                          keepa_time(due[p.asin]) if due[p.asin] else None, START)
                for p in products
            ]  # fmt: skip
            tokens = run_budget(
                per_hour=per_hour,
                spent_last_hour=sum(t for _, t in window),
                tokens_left=int(keepa.left),
                tokens_per_asin=1,
                cadence=CADENCE,
            )
            assert tokens is not None
            asins = tokens - min(20, tokens // 10)  # the pass keeps a tenth for category names
            chosen = [
                c.asin for c in plan_run(candidates, now=now, budget=asins, cadence=CADENCE).chosen
            ]
        else:
            chosen = sorted(p.asin for p in products)
        by_asin = {p.asin: p for p in products}
        for offset in range(0, len(chosen), BATCH):
            batch = [by_asin[a] for a in chosen[offset : offset + BATCH]]
            served, retries = keepa.take(len(batch)), 3
            while not served and retries:  # 429: the client waits for the next refill
                retries -= 1
                keepa.refill(keepa.at + 1)
                served = keepa.take(len(batch))
            if not served:  # out of tokens: the pass stops; the next one starts again
                break
            window.append((minute, len(batch)))
            spent.append((minute, len(batch)))
            outcome.tokens += len(batch) if measured[0] <= minute < measured[1] else 0
            since = [keepa_time(last[p.asin]) if p.asin in last else None for p in batch]
            asked = history_days(since, now=now, least=1) if scheduled else 1
            for product in batch:
                snapshot = product.snapshot(minute, asked, with_series=scheduled)
                previous = states[product.asin]
                result = observe(previous, snapshot, observed_at=now)
                for change in result.changes:
                    at = keepa_minute(change.changed_at)
                    seen.setdefault((product.asin, change.category_id, change.kind, at), minute)
                main_before = (
                    previous.category_ranks.get(snapshot.main_category_id or -1)
                    if previous
                    else None
                )
                interval = next_check(previous, result.state, snapshot,
                                      main_before=main_before.rank if main_before else None,
                                      cadence=CADENCE).interval  # fmt: skip
                if product.asin in last and minute > measured[0]:
                    outcome.longest_wait = max(outcome.longest_wait, minute - last[product.asin])
                states[product.asin], last[product.asin] = result.state, minute
                due[product.asin] = minute + int(interval.total_seconds() // 60)
    outcome.most_in_60_min = most_in_an_hour(spent)
    for product in products:  # and those still waiting at the end, never checked again
        waited = end - last.get(product.asin, start)
        outcome.longest_wait = max(outcome.longest_wait, waited)
    for product in products:
        near = (product.best_before() or 10**9) <= NEAR
        truth = product.crossings(*measured)
        for category, kind, at in truth:
            alerted = alert_of(seen, product, category, kind, at, truth, scheduled)
            outcome.delays.append((None if alerted is None else alerted - at, near))
    return outcome


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


def alert_of(seen, product, category, kind, at, truth, scheduled) -> int | None:
    """When this crossing was alerted: recorded at its own time (the walk), or, before, as
    the check's net change when it was the last crossing of that kind before the check."""
    if scheduled:
        return seen.get((product.asin, category, kind, at))
    later = [
        m
        for (a, c, k, _), m in seen.items()
        if a == product.asin and c == category and k == kind and m >= at
    ]
    if not later:
        return None
    check = min(later)
    between = [t for c, k, t in truth if c == category and at < t <= check]
    return None if between else check


def summary(outcome: Outcome, *, asins: int, days: int, per_hour: float) -> dict[str, object]:
    def stats(delays: list[float | None]) -> dict[str, object]:
        alerted = sorted(d for d in delays if d is not None)
        return {
            "changes": len(delays),
            "within_60_min": share(sum(d <= 60 for d in alerted), len(delays)),
            "within_ceiling": share(
                sum(d <= CADENCE.ceiling_hours * 60 for d in alerted), len(delays)
            ),
            "alerted": share(len(alerted), len(delays)),
            "median_min": statistics.median(alerted) if alerted else None,
            "p95_min": alerted[min(len(alerted) - 1, int(0.95 * len(alerted)))]
            if alerted
            else None,
        }

    return {
        "all": stats([d for d, _ in outcome.delays]),
        "near": stats([d for d, near in outcome.delays if near]),
        "tokens_per_asin_per_day": round(outcome.tokens / asins / days, 2),
        "most_tokens_in_60_min": outcome.most_in_60_min,
        "plan_per_hour": per_hour,
        "longest_unchecked_h": round(outcome.longest_wait / 60, 2),
    }


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--asins", type=int, default=540)
    parser.add_argument("--near-share", type=float, default=0.1)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seeds", default="25,26,27", help="one watch list per seed, pooled")
    parser.add_argument("--plans", default="1,0.5,0.33,0.2")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "replay.json"
    )
    args = parser.parse_args()
    lists = [watch_list(args.asins, args.near_share, int(seed)) for seed in args.seeds.split(",")]
    near = sum((p.best_before() or 10**9) <= NEAR for products in lists for p in products)
    results = []
    for fraction in [float(f) for f in args.plans.split(",")]:
        per_hour = round(args.asins * fraction)
        for scheduled in (True, False):
            pooled = Outcome()
            for products in lists:
                outcome = replay(products, per_hour=per_hour, days=args.days, scheduled=scheduled)
                pooled.delays += outcome.delays
                pooled.most_in_60_min = max(pooled.most_in_60_min, outcome.most_in_60_min)
                pooled.tokens += outcome.tokens
                pooled.longest_wait = max(pooled.longest_wait, outcome.longest_wait)
            row = {"plan": fraction, "design": "schedule + walk" if scheduled else "before"}
            asins = args.asins * len(lists)
            row |= summary(pooled, asins=asins, days=args.days, per_hour=per_hour)
            results.append(row)
            print(json.dumps(row))
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


def table(results: list[dict]) -> str:
    """The results as benchmarks/README.md shows them."""

    def cell(value: object, unit: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, float) and unit == "%":
            return f"{value * 100:.1f} %"
        return f"{value:g}{unit}" if isinstance(value, float | int) else str(value)

    lines = [
        "| plan (tokens/h) | design | #1 changes | alerted ≤ 60 min | alerted at all |"
        " median / p95 delay (min) | near #1: median / p95 | tokens per ASIN per day |"
        " most tokens in 60 min | longest unchecked (h) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        every, near = row["all"], row["near"]
        lines.append(
            f"| {row['plan'] * 100:.0f} % ({row['plan_per_hour']:g}) | {row['design']}"
            f" | {every['changes']} | {cell(every['within_60_min'], '%')}"
            f" | {cell(every['alerted'], '%')}"
            f" | {cell(every['median_min'])} / {cell(every['p95_min'])}"
            f" | {cell(near['median_min'])} / {cell(near['p95_min'])}"
            f" | {row['tokens_per_asin_per_day']:g} | {row['most_tokens_in_60_min']}"
            f" | {row['longest_unchecked_h']:g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
