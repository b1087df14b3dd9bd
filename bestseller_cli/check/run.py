"""The monitoring pass: plan the work, then batch after batch fetch, diff, write and deliver,
then deliver the rest, and assemble the summary once from what each step returned.

One ASIN's walk: check/work.py plans it, keepa/ahead.py fetches it, check/batch.py reads its
stored state and names its categories, rules/batch_diff.py decides (the `BatchOutcome`),
store/check_store.py writes that in one statement, alerts/delivery.py delivers its alerts,
check/tally.py counts it into the summary.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import httpx
import psycopg

from bestseller_cli import output
from bestseller_cli.alerts.delivery import Deliverer, Delivery, NoDelivery, chart_options
from bestseller_cli.alerts.operations import announce_unwritable
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.check.category_names import NameBudget
from bestseller_cli.check.category_watch import watch_categories
from bestseller_cli.check.context import (
    DEADLINE_MARGIN_SECONDS,
    Pass,
    PassHooks,
    PassLog,
    PassOptions,
    print_nothing,
    report_no_progress,
    utc_now,
)
from bestseller_cli.check.fetch import FetchLoop, Stopped, StopReason
from bestseller_cli.check.handoff import note_operations, run_record
from bestseller_cli.check.holder_lookup import look_up_holders
from bestseller_cli.check.lock import take_run_lock
from bestseller_cli.check.record import DryRecorder, RunRecorder
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.check.tally import Lookups, PassTally
from bestseller_cli.check.work import WorkPlan, full_work, scheduled_work
from bestseller_cli.config import Settings
from bestseller_cli.errors import DatabaseError, KeepaAuthError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ErrorEvent, Printed
from bestseller_cli.rules.batch_diff import DiffSettings, RuleBook
from bestseller_cli.rules.routing import unknown_zones
from bestseller_cli.rules.schedule import Cadence
from bestseller_cli.store import client_store, db, failures, lock_holders, run_store, schema
from bestseller_cli.store.watchdog import Watchdog

log = logging.getLogger(__name__)

RESUMED_NEXT = "the pass stopped; the next `bestseller check` resumes it"


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
    hooks = PassHooks(
        show=show,
        on_progress=on_progress,
        clock=clock,
        stop=stop or threading.Event(),
        keepa_transport=keepa_transport,
        channel=channel,
    )
    deadline = Watchdog(
        seconds=settings.run_deadline_minutes * 60, last_words=ended_by_watchdog(settings)
    )
    try:
        with deadline, db.database_errors(RESUMED_NEXT):
            return locked_pass(settings, options=options, hooks=hooks, started=started)
    except Exception as exc:
        if deadline.fired:
            raise DatabaseError(past_deadline(settings)) from exc
        if isinstance(exc, DatabaseError) and exc.sqlstate in failures.UNWRITABLE:
            what = failures.BY_SQLSTATE[exc.sqlstate].what
            announce_unwritable(settings, what=what, now=datetime.now(UTC))
        raise


def locked_pass(
    settings: Settings, *, options: PassOptions, hooks: PassHooks, started: float
) -> CheckSummary:
    """The pass under the run lock, on its own autocommit connection: each batch's write is
    one statement, atomic on its own, so a batch costs two round trips (read, write) and is
    durable once it returns."""
    begun = datetime.now(UTC)  # the wall clock, as other passes read our session's name
    limits = db.SessionLimits.from_settings(settings)
    name = lock_holders.session_name(since=begun)
    url = db.database_url(settings)
    db.require_session_mode(url)
    with db.run_lock(url, limits=limits, application_name=name) as lock:
        tally = PassTally(
            dry_run=options.dry_run,
            stale_hours=settings.keepa_stale_hours,
            missing_unknown_after=settings.keepa_missing_passes_unknown,
            lock=take_run_lock(lock, settings=settings, now=begun),
        )
        if not tally.lock.held:
            return tally.summary()
        with db.connect(url, autocommit=True, limits=limits, application_name=name) as conn:
            schema.migrate(conn)
            run_store.check_selection(conn, asins=options.asin_list, client=options.client)
            name_run = partial(name_sessions, (lock.conn, conn), begun=begun)
            judge = partial(note_operations, conn, settings=settings, tally=tally)
            channels = partial(hooks.channels, conn, settings)
            try:
                run_pass(conn, settings=settings, options=options, hooks=hooks,
                         started=started, tally=tally, name_run=name_run)  # fmt: skip
            except Exception as exc:
                if not conn.broken:
                    judge(failure=exc, now=hooks.clock(), channels=channels)
                raise
            tally.conditions = judge(failure=None, now=hooks.clock(), channels=channels)
    return tally.summary()


def name_sessions(conns: tuple[psycopg.Connection, ...], run_id: int, *, begun: datetime) -> None:
    """Name the pass's sessions after its run, once it has one."""
    run_name = lock_holders.session_name(since=begun, run_id=run_id)
    for conn in conns:
        db.name_session(conn, run_name)


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
    tally: PassTally,
    name_run: Callable[[int], None] = lambda run_id: None,
) -> None:
    """Fetch, diff, write and deliver, keeping what each step returns in `tally`.
    `started` (time.monotonic()) is when the run began: its deadline counts from then."""
    recorder = DryRecorder(conn, settings) if options.dry_run else RunRecorder(conn, settings)
    tally.run_id, tally.resumed = recorder.start(filtered=options.filtered)
    output.bind_run_id(tally.run_id)
    if tally.run_id is not None:
        name_run(tally.run_id)
    run = collaborators(conn, settings, options, hooks, started=started, run_id=tally.run_id)
    tally.warnings = unknown_zone_warnings(run)
    delivery = deliverer(run)
    try:
        fetch_everything(run, recorder=recorder, delivery=delivery, tally=tally)
        recorder.flush(run.log.take_calls(), run.log.take_errors())
        tally.delivery = delivery.sweep(now=hooks.clock())
        run.log.record_errors(tally.delivery.errors)
        recorder.flush(run.log.take_calls(), run.log.take_errors())
    except Exception as exc:
        kind = "keepa_rejected" if isinstance(exc, KeepaAuthError) else type(exc).__name__
        run.log.record_error(ErrorEvent(source="check", kind=kind, message=str(exc)))
        tally.tokens_used = run.log.tokens_used
        status = "partial" if tally.checked else "failed"
        record = run_record(tally.summary())
        recorder.fail(run.log.take_calls(), run.log.take_errors(), status=status, record=record)
        raise
    tally.tokens_used = run.log.tokens_used
    tally.interrupted = hooks.stop.is_set()
    if tally.interrupted and tally.stopped.reason is StopReason.FINISHED:
        tally.stopped = Stopped(StopReason.SIGTERM)
    tally.duration_seconds = round(time.monotonic() - started, 3)
    status = "partial" if tally.unchecked else "completed"
    recorder.finish(status=status, record=run_record(tally.summary()))


def collaborators(
    conn: psycopg.Connection,
    settings: Settings,
    options: PassOptions,
    hooks: PassHooks,
    *,
    started: float,
    run_id: int | None,
) -> Pass:
    rules_by_client, defaults = client_store.load_rules(conn)
    given = DiffSettings(
        rules=RuleBook(by_client=rules_by_client, defaults=defaults),
        cadence=Cadence.of(settings),
        stale_hours=settings.keepa_stale_hours,
        missing_unknown_after=settings.keepa_missing_passes_unknown,
    )
    deadline = started + settings.run_deadline_minutes * 60 - DEADLINE_MARGIN_SECONDS
    return Pass(conn, settings, options, hooks, deadline, run_id, given=given, log=PassLog())


def deliverer(run: Pass) -> Deliverer:
    """The channels the rules and settings name; on a dry run, nothing goes out."""
    if run.options.dry_run:
        return NoDelivery()
    return Delivery(
        conn=run.conn,
        channel=run.hooks.channels(run.conn, run.settings),
        default_channel=run.settings.slack_channel_id,
        expiry_days=run.settings.alert_expiry_days,
        should_stop=run.hooks.stop.is_set,
        **chart_options(run.settings),
    )


def unknown_zone_warnings(run: Pass) -> list[str]:
    """A rule's zone missing on this machine must not stop delivery: it falls back to UTC,
    and error_log says so."""
    warnings = []
    for zone in unknown_zones(run.given.rules.all()[1:]):
        message = f"time zone {zone!r} is unknown on this machine: its rules deliver in UTC"
        run.log.record_error(ErrorEvent(source="routing", kind="unknown_timezone", message=message))
        warnings.append(message)
    return warnings


def fetch_everything(
    run: Pass, *, recorder: RunRecorder, delivery: Deliverer, tally: PassTally
) -> None:
    """Plan the work, fetch it batch by batch, then look up who took #1 where unexplained."""
    with keepa_client(run) as keepa:
        tally.plan = plan = plan_work(keepa, run)
        names = name_budget(run.settings, run.options, plan)
        loop = FetchLoop(run, keepa=keepa, names=names, recorder=recorder, delivery=delivery)
        for counts in loop.batches(plan.chunks):
            tally.batches.append(counts)
            run.hooks.on_progress(tally.checked, plan.asins_to_check)
        tally.stopped, tally.unchecked = loop.stopped or Stopped(), loop.unchecked
        tally.lookups = look_up(keepa, run, names=names, plan=plan, finished=loop.stopped)
        if watches_categories(run, finished=loop.stopped):
            tally.categories = watch_categories(  # what planning held back for them
                keepa, run, tokens_free=plan.list_tokens, plan_per_hour=plan.plan_per_hour
            )


def watches_categories(run: Pass, *, finished: Stopped | None) -> bool:
    """Watched categories come after the product checks, in a whole pass that finished
    them: not in a dry run, nor one for some ASINs or one client."""
    whole = not (run.options.dry_run or run.options.filtered)
    return whole and run.run_id is not None and finished in (None, Stopped())


def keepa_client(run: Pass) -> KeepaClient:
    return KeepaClient.from_settings(
        run.settings,
        on_call=run.log.record_call,
        on_error=run.log.record_error,
        deadline=run.deadline,
        stop=run.hooks.stop,
        transport=run.hooks.keepa_transport,
        clock=run.hooks.clock,
    )


def plan_work(keepa: KeepaClient, run: Pass) -> WorkPlan:
    selection = run_store.WorkSelection(
        run_id=run.run_id, asins=run.options.asin_list, client=run.options.client
    )
    if not run.options.scheduled:
        return full_work(keepa, run.conn, run.settings, selection)
    return scheduled_work(
        keepa,
        run.conn,
        run.settings,
        selection,
        cadence=run.given.cadence,
        now=run.hooks.clock(),
        categories=not (run.options.dry_run or run.options.filtered),
    )


def name_budget(settings: Settings, options: PassOptions, plan: WorkPlan) -> NameBudget:
    """A dry run stores no name, so it buys none: categories without a known name show ids."""
    if options.dry_run:
        budget = NameBudget(limit=0, stopped_because="a dry run looks no name up on Keepa")
    else:
        budget = NameBudget(limit=settings.keepa_category_token_budget)
    if plan.name_tokens is not None:
        budget.limit = min(budget.limit, plan.name_tokens)
    return budget


def look_up(
    keepa: KeepaClient, run: Pass, *, names: NameBudget, plan: WorkPlan, finished: Stopped | None
) -> Lookups:
    """What the names looked up came to, and the holders of #1 looked up after the batches."""
    warnings = []
    if names.left_unnamed:
        warnings.append(
            f"{names.left_unnamed} ranked categories are shown by id: {names.stopped_because}"
        )
    lookup = run.settings.keepa_bestsellers_lookup and finished == Stopped()
    if not lookup or run.run_id is None:
        return Lookups(categories_named=names.looked_up, warnings=tuple(warnings))
    budget = run.settings.keepa_bestsellers_token_budget
    if plan.run_budget is not None:  # a scheduled run: what is left of its share
        budget = min(budget, max(plan.run_budget - run.log.tokens_used, 0))
    outcome = look_up_holders(keepa, run.conn, run_id=run.run_id, budget=budget)
    run.log.record_errors(outcome.errors)
    if outcome.over_budget:
        warnings.append(
            f"{outcome.over_budget} categories lost #1 with the holder unknown: the"
            f" KEEPA_BESTSELLERS_TOKEN_BUDGET of {budget} tokens is spent for this pass"
        )
    return Lookups(
        categories_named=names.looked_up,
        holders_looked_up=outcome.looked_up,
        warnings=tuple(warnings),
    )
