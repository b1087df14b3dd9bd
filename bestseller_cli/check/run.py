"""The monitoring pass: fetch ranks, detect badge changes, record them, deliver alerts."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import psycopg

from bestseller_cli import output
from bestseller_cli.alerts.delivery import Delivery
from bestseller_cli.check.batch import process_batch
from bestseller_cli.check.category_names import NameBudget
from bestseller_cli.check.context import (
    DEADLINE_MARGIN_SECONDS,
    STOPPED_BY_SIGTERM,
    PassContext,
    PassHooks,
    PassOptions,
    print_nothing,
    report_no_progress,
    utc_now,
)
from bestseller_cli.check.handoff import (
    absorb,
    flush_records,
    note_operations,
    record_failure,
    run_record,
)
from bestseller_cli.check.holder_lookup import look_up_holders
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.ahead import fetch_ahead
from bestseller_cli.keepa.answers import KeepaOutOfTokens
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.keepa.payload import TokenStatus
from bestseller_cli.models import ErrorEvent
from bestseller_cli.rules.routing import unknown_zones
from bestseller_cli.rules.schedule import (
    Cadence,
    forecast,
    history_days,
    plan_per_hour,
    plan_run,
    run_budget,
    tokens_per_asin,
)
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.slack.messages import SlackMessage
from bestseller_cli.store import client_store, db, log_store, run_store

log = logging.getLogger(__name__)

# The work list is read in pages of this many batches: one extra round trip per 50 batches.
BATCHES_PER_WORK_PAGE = 50


def run_check(
    settings: Settings,
    *,
    options: PassOptions = PassOptions(),
    show: Callable[[SlackMessage], None] = print_nothing,
    on_progress: Callable[[int, int], None] = report_no_progress,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
) -> CheckSummary:
    """Run one full pass. Never overlaps another: a held run lock ends it at once. The
    collaborators are PassHooks'; the database failing is a DatabaseError."""
    started = time.monotonic()
    stop = stop or threading.Event()
    hooks = PassHooks(show=show, on_progress=on_progress, clock=clock, stop=stop)
    summary = CheckSummary(dry_run=options.dry_run, stale_hours=settings.keepa_stale_hours)
    with db.database_errors("the pass stopped; the next `bestseller check` resumes it"):
        url = db.database_url(settings)
        db.require_session_mode(url)
        with db.run_lock(url) as locked:
            if not locked:
                summary.lock_held_elsewhere = True
                return summary
            # Autocommit: each batch's write is one statement, atomic on its own, so a batch
            # costs two round trips (read, write) and is durable the moment it returns.
            with db.connect(url, autocommit=True) as conn:
                db.migrate(conn)
                run_store.check_selection(conn, asins=options.asin_list, client=options.client)
                try:
                    run_pass(
                        conn,
                        settings=settings,
                        options=options,
                        hooks=hooks,
                        started=started,
                        summary=summary,
                    )
                except Exception as exc:
                    note_operations(
                        conn, settings=settings, summary=summary, failure=exc, hooks=hooks
                    )
                    raise
                note_operations(conn, settings=settings, summary=summary, failure=None, hooks=hooks)
    return summary


def run_pass(
    conn: psycopg.Connection,
    *,
    settings: Settings,
    options: PassOptions,
    hooks: PassHooks,
    started: float,
    summary: CheckSummary,
) -> None:
    """Fetch, diff, write and deliver, counting into `summary`. `started`
    (time.monotonic()) is when the run began: its deadline counts from then."""
    deadline = started + settings.run_deadline_minutes * 60 - DEADLINE_MARGIN_SECONDS
    run_id = None
    if not options.dry_run:
        window = timedelta(minutes=settings.run_deadline_minutes)
        run_id, summary.resumed = run_store.start_run(
            conn, resume_within=window, filtered=options.filtered
        )
    summary.run_id = run_id
    output.bind_run_id(run_id)
    context = PassContext(
        conn=conn,
        settings=settings,
        options=options,
        hooks=hooks,
        deadline=deadline,
        run_id=run_id,
        summary=summary,
        rules=client_store.load_rules(conn),
        names=name_budget(settings, options),
        cadence=Cadence.of(settings),
    )
    note_unknown_zones(context)
    if not options.dry_run:
        sender = SlackSender.from_settings(settings) if settings.slack_bot_token else None
        context.delivery = Delivery(
            conn=conn,
            sender=sender,
            default_channel=settings.slack_channel_id,
            show=hooks.show,
            expiry_days=settings.alert_expiry_days,
            should_stop=hooks.stop.is_set,
        )
    selection = run_store.WorkSelection(
        run_id=run_id, asins=options.asin_list, client=options.client
    )
    keepa = KeepaClient.from_settings(
        settings,
        on_call=context.record_call,
        on_error=context.errors.append,
        deadline=deadline,
        stop=hooks.stop,
        clock=hooks.clock,
    )
    try:
        with keepa:
            if options.scheduled:
                work = scheduled_work(keepa, context, selection)
            else:
                work = full_work(keepa, context, selection)
            fetch_all(keepa, context, work)
            note_unnamed(context)
            lookup = settings.keepa_bestsellers_lookup and summary.stopped_because is None
            if lookup and run_id is not None:
                name_unexplained_holders(keepa, context, run_id)
        if context.delivery is not None:
            flush_records(context)
            absorb(summary, context.delivery.sweep(now=hooks.clock()), context)
            flush_records(context)
    except Exception as exc:
        if not options.dry_run:
            kind = "keepa_rejected" if isinstance(exc, KeepaAuthError) else type(exc).__name__
            context.errors.append(ErrorEvent(source="check", kind=kind, message=str(exc)))
            record_failure(context)
        raise
    warn_about_missing(summary, unknown_after=settings.keepa_missing_passes_unknown)
    if hooks.stop.is_set():
        summary.interrupted = True
        summary.stopped_because = summary.stopped_because or STOPPED_BY_SIGTERM
    summary.duration_seconds = round(time.monotonic() - started, 3)
    if run_id is not None:
        status = "partial" if summary.unchecked else "completed"
        run_store.finish_run(conn, run_id=run_id, status=status, summary=run_record(summary))


def name_budget(settings: Settings, options: PassOptions) -> NameBudget:
    """A dry run stores no name, so it buys none: categories without a known name show ids."""
    if options.dry_run:
        return NameBudget(limit=0, stopped_because="a dry run looks no name up on Keepa")
    return NameBudget(limit=settings.keepa_category_token_budget)


def warn_about_missing(summary: CheckSummary, *, unknown_after: int) -> None:
    if summary.missing_from_keepa:
        summary.warnings.append(
            f"Keepa's answer left out {len(summary.missing_from_keepa)} requested ASIN(s):"
            f" {', '.join(summary.missing_from_keepa[:20])}; each keeps its last known state"
            f" until left out {unknown_after} passes in a row (KEEPA_MISSING_PASSES_UNKNOWN),"
            " then it is unknown"
        )
    if summary.now_unknown:
        summary.warnings.append(
            f"now unknown after {unknown_after} passes left out of Keepa's answers:"
            f" {', '.join(summary.now_unknown[:20])}"
        )


def note_unknown_zones(context: PassContext) -> None:
    """A rule's zone missing on this machine must not stop delivery: it falls back to UTC,
    and error_log says so."""
    rules_by_client, _ = context.rules
    for zone in unknown_zones(rule for rules in rules_by_client.values() for rule in rules):
        message = f"time zone {zone!r} is unknown on this machine: its rules deliver in UTC"
        context.errors.append(
            ErrorEvent(source="routing", kind="unknown_timezone", message=message)
        )
        context.summary.warnings.append(message)


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


def fetch_all(
    keepa: KeepaClient,
    context: PassContext,
    work: Iterator[run_store.WorkChunk],
) -> None:
    """Fetch and process the work chunk by chunk; once stopped, the rest is listed unchecked."""
    summary = context.summary
    for chunk in work:
        left = chunk.asins
        if summary.stopped_because is None:
            left = fetch_chunk(keepa, context, chunk)
        summary.unchecked += [f"{asin} ({chunk.marketplace})" for asin in left]


def fetch_chunk(keepa: KeepaClient, context: PassContext, chunk: run_store.WorkChunk) -> list[str]:
    """Batch after batch, each written and alerted while the next ones are fetched; returns
    the ASINs of the chunk left unprocessed. Each request's series reach back past its
    batch's oldest check, so nothing Keepa recorded in between is missed."""
    summary = context.summary
    marketplace, asins = chunk.marketplace, chunk.asins
    least = context.settings.keepa_history_days

    def days_for(batch: list[str]) -> int:
        since = (chunk.since.get(asin) for asin in batch)
        return history_days(since, now=context.hooks.clock(), least=least)

    def may_request() -> bool:
        if context.hooks.stop.is_set():
            summary.stopped_because = STOPPED_BY_SIGTERM
            return False
        if time.monotonic() <= context.deadline:
            return True
        summary.stopped_because = "the run deadline (RUN_DEADLINE_MINUTES) is near"
        summary.stopped_for = "deadline"
        return False

    processed: set[str] = set()
    for fetched in fetch_ahead(
        keepa,
        marketplace=marketplace,
        asins=asins,
        batch_size=context.settings.batch_size,
        ahead=context.settings.keepa_requests_ahead,
        may_request=may_request,
        tokens_left=lambda: context.tokens_left,
        days_for=days_for,
    ):
        if fetched.products is None:
            stop_fetching(context, fetched.error)
            continue
        queued, categories = process_batch(
            context, marketplace, fetched.asins, fetched.products, keepa=keepa
        )
        if context.delivery is not None:
            context.delivery.batch(ids=queued, categories=categories, now=context.hooks.clock())
        processed.update(fetched.asins)
        summary.checked += len(fetched.asins)
        context.hooks.on_progress(summary.checked, summary.asins_to_check)
    return [asin for asin in asins if asin not in processed]


def stop_fetching(context: PassContext, error: Exception | None) -> None:
    """A failed request ends the fetching; the answers already paid for are still processed."""
    if isinstance(error, KeepaAuthError) or not isinstance(error, KeepaError):
        raise error or AssertionError("a batch without products or error")
    if context.summary.stopped_because is not None:
        return
    if isinstance(error, KeepaOutOfTokens):
        context.summary.stopped_because = f"Keepa is out of tokens ({error})"
        context.summary.stopped_for = "tokens"
        return
    context.errors.append(ErrorEvent(source="keepa", kind="request_failed", message=str(error)))
    if context.hooks.stop.is_set():
        context.summary.stopped_because = STOPPED_BY_SIGTERM
        return
    context.summary.stopped_because = f"Keepa failed: {error}"
    context.summary.stopped_for = "keepa"


def name_unexplained_holders(keepa: KeepaClient, context: PassContext, run_id: int) -> None:
    budget = context.settings.keepa_bestsellers_token_budget
    if context.token_budget is not None:  # a scheduled run: what is left of its share
        budget = min(budget, max(context.token_budget - context.summary.tokens_used, 0))
    outcome = look_up_holders(keepa, context.conn, run_id=run_id, budget=budget)
    context.summary.holders_looked_up = outcome.looked_up
    context.errors += outcome.errors
    if outcome.over_budget:
        context.summary.warnings.append(
            f"{outcome.over_budget} categories lost #1 with the holder unknown: the"
            f" KEEPA_BESTSELLERS_TOKEN_BUDGET of {budget} tokens is spent for this pass"
        )


def note_unnamed(context: PassContext) -> None:
    names = context.names
    context.summary.categories_named = names.looked_up
    if names.left_unnamed:
        context.summary.warnings.append(
            f"{names.left_unnamed} ranked categories are shown by id: {names.stopped_because}"
        )
