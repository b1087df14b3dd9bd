"""What a pass fetches: every selected ASIN (`--all`, `--asin`), or the ASINs due, most
urgent first, within this run's share of the Keepa plan (rules/schedule.py)."""

from collections.abc import Iterator

from bestseller_cli.check.context import PassContext
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.keepa.payload import TokenStatus
from bestseller_cli.rules.schedule import (
    forecast,
    plan_per_hour,
    plan_run,
    run_budget,
    tokens_per_asin,
)
from bestseller_cli.store import log_store, run_store

# The work list is read in pages of this many batches: one extra round trip per 50 batches.
BATCHES_PER_WORK_PAGE = 50


def token_status(keepa: KeepaClient, context: PassContext) -> TokenStatus | None:
    """Tokens Keepa has now and its refill (the /token call is free)."""
    try:
        status = keepa.token_status()
    except KeepaAuthError:
        raise
    except KeepaError as exc:
        context.summary.warnings.append(f"could not read the Keepa token balance: {exc}")
        return None
    context.summary.refill_per_minute = status.refill_rate
    context.summary.tokens_available = status.tokens_left
    return status


def full_work(
    keepa: KeepaClient, context: PassContext, selection: run_store.WorkSelection
) -> Iterator[run_store.WorkChunk]:
    """Every selected ASIN (`--all`, `--asin`), due or not, in key order."""
    summary, settings = context.summary, context.settings
    summary.asins_to_check = summary.tokens_needed = run_store.count_work(context.conn, selection)
    status = token_status(keepa, context) if summary.asins_to_check else None
    if status is not None and status.tokens_left < summary.tokens_needed:
        summary.warnings.append(
            f"this pass needs {summary.tokens_needed} Keepa tokens and"
            f" {status.tokens_left} are available now (refill {status.refill_rate}/min)"
        )
    page_size = settings.batch_size * BATCHES_PER_WORK_PAGE
    return run_store.work_chunks(context.conn, selection, page_size=page_size)


def scheduled_work(
    keepa: KeepaClient, context: PassContext, selection: run_store.WorkSelection
) -> Iterator[run_store.WorkChunk]:
    """The ASINs due, those about to pass the ceiling first, then the most overdue, within
    this run's share of the plan (rules/schedule.py); what the plan cannot cover is said."""
    conn, settings, summary, cadence = (
        context.conn,
        context.settings,
        context.summary,
        context.cadence,
    )
    now = context.hooks.clock()
    status = token_status(keepa, context)
    spent, last_refill = log_store.tokens_spent(conn, since=now - cadence.spend_window)
    per_hour = plan_per_hour(
        settings, refill_per_minute=status.refill_rate if status else last_refill
    )
    per_asin = tokens_per_asin(settings)
    tokens = run_budget(
        per_hour=per_hour,
        spent_last_hour=spent,
        tokens_left=status.tokens_left if status else None,
        tokens_per_asin=1,
        cadence=cadence,
    )
    candidates = run_store.due_candidates(conn, selection, horizon=cadence.horizon(now))
    asins = None
    if tokens is not None:
        # A tenth of the run, at most KEEPA_CATEGORY_TOKEN_BUDGET, names new categories.
        reserve = min(settings.keepa_category_token_budget, tokens // 10)
        asins = (tokens - reserve) // per_asin
    plan = plan_run(candidates, now=now, budget=asins, cadence=cadence)
    summary.run_budget = context.token_budget = tokens
    summary.asins_due, summary.asins_deferred = plan.due, plan.deferred
    summary.past_ceiling = plan.ceiling_deferred
    summary.asins_to_check = len(plan.chosen)
    summary.tokens_needed = len(plan.chosen) * per_asin
    if tokens is not None:
        context.names.limit = min(context.names.limit, tokens - summary.tokens_needed)
    intervals, watched = run_store.interval_counts(conn)
    outlook = forecast(
        intervals,
        watched=watched,
        plan_per_hour=per_hour,
        cadence=cadence,
        tokens_per_asin=per_asin,
    )
    summary.plan_too_small = outlook.too_small()
    if summary.plan_too_small or plan.ceiling_deferred:
        summary.plan_too_small = summary.plan_too_small or (
            f"{plan.ceiling_deferred:,} ASINs wait past the {cadence.ceiling_hours:g} h ceiling"
            f" this run: the plan's {per_hour or 0:,.0f} tokens/h cannot check them in time"
        )
        summary.warnings.append(f"the Keepa plan is too small: {summary.plan_too_small}")
    page_size = settings.batch_size * BATCHES_PER_WORK_PAGE
    return run_store.scheduled_chunks(plan.chosen, page_size=page_size)
