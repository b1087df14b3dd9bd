"""The replay's figures (benchmarks/replay.py): one row per plan and Keepa model, and the
table benchmarks/README.md shows."""

import statistics
from dataclasses import dataclass, field

from benchmarks.histories import CADENCE


@dataclass
class Outcome:
    """What one replay saw: each change's delay to its alert in minutes (None: never
    alerted), whether its product was near #1 and how long the state it led to lasted; the
    tokens spent on the measured days, those that bought a cached answer and those spent on
    live data; the most any 60 minutes spent and the longest an ASIN waited unchecked."""

    delays: list[tuple[float | None, bool, int | None]] = field(default_factory=list)
    tokens: float = 0
    cached_tokens: float = 0
    live_tokens: float = 0
    most_in_60_min: int = 0
    longest_wait: int = 0


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

    unseen = [lasted for delay, _, lasted in outcome.delays if delay is None]
    return {
        "all": stats([d for d, _, _ in outcome.delays]),
        "near": stats([d for d, near, _ in outcome.delays if near]),
        "unseen": len(unseen),
        "unseen_under_60_min": sum(1 for m in unseen if m is not None and m < 60),
        "tokens_per_asin_per_day": round(outcome.tokens / asins / days, 2),
        "cached_share": share_f(outcome.cached_tokens, outcome.tokens),
        "live_share": share_f(outcome.live_tokens, outcome.tokens),
        "most_tokens_in_60_min": outcome.most_in_60_min,
        "plan_per_hour": per_hour,
        "longest_unchecked_h": round(outcome.longest_wait / 60, 2),
    }


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def share_f(part: float, whole: float) -> float | None:
    return round(part / whole, 3) if whole else None


def pooled_lists(per_list: list[dict[str, float]]) -> dict[str, float]:
    """The categories' figures over the watch lists: the extremes and the means."""
    return {
        **per_list[0],
        "lists_per_day_min": min(c["lists_per_day_min"] for c in per_list),
        "lists_per_day_max": max(c["lists_per_day_max"] for c in per_list),
        "tokens_per_category_per_day": statistics.mean(
            c["tokens_per_category_per_day"] for c in per_list
        ),
        "stretched_per_day": statistics.mean(c["stretched_per_day"] for c in per_list),
    }


def table(results: list[dict]) -> str:
    """The results as benchmarks/README.md shows them."""

    def cell(value: object, unit: str = "") -> str:
        if value is None:
            return "-"
        if isinstance(value, float) and unit == "%":
            return f"{value * 100:.1f} %"
        return f"{value:g}{unit}" if isinstance(value, float | int) else str(value)

    lines = [
        "| plan (tokens/h) | design | Keepa | #1 changes | seen ≤ 60 min | seen at all"
        " (unseen < 60 min) | median / p95 delay (min) | tokens for a cached answer |"
        " tokens for live data | tokens per ASIN per day | most tokens in 60 min |"
        " longest unchecked (h) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        every = row["all"]
        lines.append(
            f"| {row['plan'] * 100:.0f} % ({row['plan_per_hour']:g}) | {row['design']}"
            f" | {row['keepa']} | {every['changes']} | {cell(every['within_60_min'], '%')}"
            f" | {cell(every['alerted'], '%')} ({row['unseen_under_60_min']})"
            f" | {cell(every['median_min'])} / {cell(every['p95_min'])}"
            f" | {cell(row['cached_share'], '%')} | {cell(row['live_share'], '%')}"
            f" | {row['tokens_per_asin_per_day']:g} | {row['most_tokens_in_60_min']}"
            f" | {row['longest_unchecked_h']:g} |"
        )
    return "\n".join(lines)
