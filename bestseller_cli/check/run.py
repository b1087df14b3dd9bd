"""The monitoring pass: fetch ranks, detect badge changes, record them, deliver alerts."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bestseller_cli import output
from bestseller_cli.alerts.delivery import Delivery, chart_options
from bestseller_cli.alerts.operations import announce_unwritable
from bestseller_cli.alerts.port import AlertChannel
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
from bestseller_cli.check.lock import take_run_lock
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.check.work import full_work, scheduled_work
from bestseller_cli.config import Settings
from bestseller_cli.errors import DatabaseError, KeepaAuthError, KeepaError
from bestseller_cli.keepa.ahead import fetch_ahead
from bestseller_cli.keepa.answers import KeepaOutOfTokens
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ErrorEvent, Printed
from bestseller_cli.rules.routing import unknown_zones
from bestseller_cli.rules.schedule import (
    Cadence,
    history_days,
)
from bestseller_cli.store import client_store, db, failures, lock_holders, run_store, schema
from bestseller_cli.store.watchdog import Watchdog

log = logging.getLogger(__name__)


def run_check(
    settings: Settings,
    *,
    options: PassOptions = PassOptions(),
    show: Callable[[Printed], None] = print_nothing,
    on_progress: Callable[[int, int], None] = report_no_progress,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
    keepa_transport: httpx.BaseTransport | None = None,
    channel: AlertChannel | None = None,
) -> CheckSummary:
    """Run one full pass. Never overlaps another: a held run lock ends it at once, unless
    its holder is a pass that vanished (check/lock.py). The collaborators are PassHooks';
    the database failing is a DatabaseError, and so is the run deadline passing while the
    pass waits on it (the watchdog cancels what is in flight)."""
    started = time.monotonic()
    begun = datetime.now(UTC)  # the wall clock, as other passes read our session's name
    stop = stop or threading.Event()
    hooks = PassHooks(
        show=show,
        on_progress=on_progress,
        clock=clock,
        stop=stop,
        keepa_transport=keepa_transport,
        channel=channel,
    )
    summary = CheckSummary(dry_run=options.dry_run, stale_hours=settings.keepa_stale_hours)
    limits = db.SessionLimits.from_settings(settings)
    name = lock_holders.session_name(since=begun)
    deadline = Watchdog(
        seconds=settings.run_deadline_minutes * 60, last_words=ended_by_watchdog(settings)
    )
    try:
        with deadline, db.database_errors(RESUMED_NEXT):
            url = db.database_url(settings)
            db.require_session_mode(url)
            with db.run_lock(url, limits=limits, application_name=name) as lock:
                if not take_run_lock(lock, settings=settings, now=begun, summary=summary):
                    summary.lock_held_elsewhere = True
                    return summary
                # Autocommit: each batch's write is one statement, atomic on its own, so a
                # batch costs two round trips (read, write) and is durable once it returns.
                with db.connect(url, autocommit=True, limits=limits, application_name=name) as conn:
                    schema.migrate(conn)
                    run_store.check_selection(conn, asins=options.asin_list, client=options.client)

                    def name_run(run_id: int) -> None:
                        run_name = lock_holders.session_name(since=begun, run_id=run_id)
                        db.name_session(lock.conn, run_name)
                        db.name_session(conn, run_name)

                    try:
                        run_pass(
                            conn,
                            settings=settings,
                            options=options,
                            hooks=hooks,
                            started=started,
                            summary=summary,
                            name_run=name_run,
                        )
                    except Exception as exc:
                        if not conn.broken:
                            note_operations(
                                conn, settings=settings, summary=summary, failure=exc, hooks=hooks
                            )
                        raise
                    note_operations(
                        conn, settings=settings, summary=summary, failure=None, hooks=hooks
                    )
    except Exception as exc:
        if deadline.fired:
            raise DatabaseError(past_deadline(settings)) from exc
        if isinstance(exc, DatabaseError) and exc.sqlstate in failures.UNWRITABLE:
            what = failures.BY_SQLSTATE[exc.sqlstate].what
            announce_unwritable(settings, what=what, now=datetime.now(UTC))
        raise
    return summary


RESUMED_NEXT = "the pass stopped; the next `bestseller check` resumes it"
# A pass ended at its deadline (by its watchdog, or killed then) is still resumed by a run
# started right after it, such as a restart after the failure.
RESUME_GRACE = timedelta(minutes=5)


def past_deadline(settings: Settings) -> str:
    return (
        "database error: no answer from the database by the run deadline"
        f" (RUN_DEADLINE_MINUTES={settings.run_deadline_minutes:g}): what was in flight was"
        f" cancelled; {RESUMED_NEXT}"
    )


def ended_by_watchdog(settings: Settings) -> str:
    return (
        "the pass was still waiting at its run deadline"
        f" (RUN_DEADLINE_MINUTES={settings.run_deadline_minutes:g}) and was ended;"
        " the next `bestseller check` resumes it"
    )


def run_pass(
    conn: psycopg.Connection,
    *,
    settings: Settings,
    options: PassOptions,
    hooks: PassHooks,
    started: float,
    summary: CheckSummary,
    name_run: Callable[[int], None] = lambda run_id: None,
) -> None:
    """Fetch, diff, write and deliver, counting into `summary`. `started`
    (time.monotonic()) is when the run began: its deadline counts from then. `name_run`
    names the pass's sessions after its run, once it has one."""
    deadline = started + settings.run_deadline_minutes * 60 - DEADLINE_MARGIN_SECONDS
    run_id = None
    if not options.dry_run:
        window = timedelta(minutes=settings.run_deadline_minutes) + RESUME_GRACE
        run_id, summary.resumed = run_store.start_run(
            conn, resume_within=window, filtered=options.filtered
        )
    summary.run_id = run_id
    output.bind_run_id(run_id)
    if run_id is not None:
        name_run(run_id)
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
        context.delivery = Delivery(
            conn=conn,
            channel=hooks.channels(conn, settings),
            default_channel=settings.slack_channel_id,
            expiry_days=settings.alert_expiry_days,
            should_stop=hooks.stop.is_set,
            **chart_options(settings),
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
        transport=hooks.keepa_transport,
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
