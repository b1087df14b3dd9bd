"""What a pass fetches: every selected ASIN (`--all`, `--asin`), or the ASINs due, most
urgent first, within this run's share of the Keepa plan (rules/schedule.py). Planning
returns a `WorkPlan`: the work itself and what the summary says of it."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import psycopg

from bestseller_cli.check.category_watch import lists_to_hold
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.keepa.payload import TokenStatus
from bestseller_cli.rules.run_plan import (
    RunPlan,
    hour_left,
    plan_per_hour,
    plan_run,
    run_budget,
)
from bestseller_cli.rules.schedule import Cadence, Forecast, forecast
from bestseller_cli.store import log_store, run_store

# The work list is read in pages of this many batches: one extra round trip per 50 batches.
BATCHES_PER_WORK_PAGE = 50


@dataclass(frozen=True)
class WorkPlan:
    """The work of a pass, and what planning it found."""

    chunks: Iterator[run_store.WorkChunk]
    asins_to_check: int
    tokens_needed: int
    tokens_available: int | None = None  # Keepa's balance at the start
    refill_per_minute: int | None = None
    # A scheduled run: the ASINs due, those left for the next runs, those past the ceiling.
    asins_due: int = 0
    asins_deferred: int = 0
    past_ceiling: int = 0
    # Due by their interval, waiting for Keepa's data to go stale: a plain check now would
    # buy its cached answer, and a live one would not pay.
    waiting_for_keepa: int = 0
    run_budget: int | None = None  # the tokens this run may spend (None: no limit known)
    list_tokens: int | None = None  # what it holds back for watched categories' lists
    plan_per_hour: float | None = None  # the plan's tokens per hour (None: not known)
    plan_too_small: str | None = None  # what the plan can watch, said once
    warnings: list[str] = field(default_factory=list)

    @property
    def name_tokens(self) -> int | None:
        """The most the run's budget leaves for naming categories."""
        return None if self.run_budget is None else self.run_budget - self.tokens_needed


def token_status(keepa: KeepaClient, warnings: list[str]) -> TokenStatus | None:
    """Tokens Keepa has now and its refill (the /token call is free)."""
    try:
        return keepa.token_status()
    except KeepaAuthError:
        raise
    except KeepaError as exc:
        warnings.append(f"could not read the Keepa token balance: {exc}")
        return None


def full_work(
    keepa: KeepaClient,
    conn: psycopg.Connection,
    settings: Settings,
    selection: run_store.WorkSelection,
) -> WorkPlan:
    """Every selected ASIN (`--all`, `--asin`), due or not, in key order."""
    count = run_store.count_work(conn, selection)
    warnings: list[str] = []
    status = token_status(keepa, warnings) if count else None
    if status is not None and status.tokens_left < count:
        warnings.append(
            f"this pass needs {count} Keepa tokens and"
            f" {status.tokens_left} are available now (refill {status.refill_rate}/min)"
        )
    page_size = settings.batch_size * BATCHES_PER_WORK_PAGE
    return WorkPlan(
        chunks=run_store.work_chunks(conn, selection, page_size=page_size),
        asins_to_check=count,
        tokens_needed=count,
        tokens_available=status.tokens_left if status else None,
        refill_per_minute=status.refill_rate if status else None,
        plan_per_hour=plan_per_hour(
            settings, refill_per_minute=status.refill_rate if status else None
        ),
        warnings=warnings,
    )


def scheduled_work(
    keepa: KeepaClient,
    conn: psycopg.Connection,
    settings: Settings,
    selection: run_store.WorkSelection,
    *,
    cadence: Cadence,
    now: datetime,
    categories: bool = False,
) -> WorkPlan:
    """The ASINs due, those about to pass the ceiling first, then the most overdue, within
    this run's share of the plan (rules/schedule.py); what the plan cannot cover is said."""
    warnings: list[str] = []
    status = token_status(keepa, warnings)
    spent, last_refill = log_store.tokens_spent(conn, since=now - cadence.spend_window)
    per_hour = plan_per_hour(
        settings, refill_per_minute=status.refill_rate if status else last_refill
    )
    keepa_has = status.tokens_left if status else None
    tokens = run_budget(
        per_hour=per_hour, spent_last_hour=spent, tokens_left=keepa_has, cadence=cadence
    )
    candidates = run_store.due_candidates(conn, selection, horizon=cadence.horizon(now))
    intervals, watched = run_store.interval_counts(conn)
    budget = reserve = None
    if tokens is not None:
        # A tenth of the run, at most KEEPA_CATEGORY_TOKEN_BUDGET, names new categories.
        reserve = min(settings.keepa_category_token_budget, tokens // 10)
        budget = tokens - reserve
    replan = partial(plan_run, candidates, now=now, cadence=cadence, watched=watched)
    plan, held = replan(budget=budget), None
    if categories and budget is not None and reserve is not None:
        hour = hour_left(per_hour=per_hour, spent_last_hour=spent, tokens_left=keepa_has) or 0
        spare = max(plan.spare(hour - reserve) or 0, 0)
        plan, held = room_for_lists(conn, settings, plan, replan, budget=budget, spare=spare,
                                    per_hour=per_hour, now=now)  # fmt: skip
    outlook = forecast(intervals, watched=watched, plan_per_hour=per_hour, cadence=cadence)
    too_small = too_small_to_watch(outlook, plan, per_hour=per_hour, cadence=cadence)
    if too_small:
        warnings.append(f"the Keepa plan is too small: {too_small}")
    page_size = settings.batch_size * BATCHES_PER_WORK_PAGE
    return WorkPlan(
        chunks=run_store.scheduled_chunks(plan.chosen, page_size=page_size, live=plan.live),
        asins_to_check=len(plan.chosen),
        tokens_needed=plan.tokens,
        tokens_available=keepa_has,
        refill_per_minute=status.refill_rate if status else None,
        asins_due=plan.due,
        asins_deferred=plan.deferred,
        past_ceiling=plan.ceiling_deferred,
        waiting_for_keepa=plan.waiting,
        run_budget=tokens,
        list_tokens=held,
        plan_per_hour=per_hour,
        plan_too_small=too_small,
        warnings=warnings,
    )


def room_for_lists(
    conn: psycopg.Connection,
    settings: Settings,
    plan: RunPlan,
    replan: Callable[..., RunPlan],
    *,
    budget: int,
    spare: int,
    per_hour: float | None,
    now: datetime,
) -> tuple[RunPlan, int]:
    """Watched categories' lists come after the ASINs at the ceiling and its pace, before
    live refreshes, out of what the hour has left (`spare`: a 50-token list is more than a
    run's share): the product plan again within what they leave, and what they may spend."""
    lists = lists_to_hold(conn, settings, spare=spare, plan_per_hour=per_hour, now=now)
    if lists.kept_back:
        plan = replan(budget=max(budget - lists.kept_back, plan.obliged))
    return plan, lists.tokens_planned


def too_small_to_watch(
    outlook: Forecast, plan: RunPlan, *, per_hour: float | None, cadence: Cadence
) -> str | None:
    """What the plan cannot watch in time, from the forecast or from this run's ceiling."""
    too_small = outlook.too_small()
    if too_small or not plan.ceiling_deferred:
        return too_small
    return (
        f"{plan.ceiling_deferred:,} ASINs wait past the {cadence.ceiling_hours:g} h ceiling"
        f" this run: the plan's {per_hour or 0:,.0f} tokens/h cannot check them in time"
    )
