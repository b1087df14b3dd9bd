"""The monitoring pass: fetch ranks, detect badge changes, record them, deliver alerts."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from bestseller_cli import check_store, client_store, db, log_store, output
from bestseller_cli.badges import moved_ranks, observe
from bestseller_cli.category_names import NameBudget, name_batch, with_names
from bestseller_cli.check_summary import CheckSummary
from bestseller_cli.config import Settings
from bestseller_cli.delivery import Delivery, DeliveryReport
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.holder_lookup import look_up_holders
from bestseller_cli.keepa import KeepaClient, KeepaOutOfTokens
from bestseller_cli.keepa_ahead import fetch_ahead
from bestseller_cli.models import (
    INVALID,
    VARIATION_PARENT,
    ApiCall,
    Change,
    ErrorEvent,
    ProductSnapshot,
)
from bestseller_cli.ops import watch_operations
from bestseller_cli.ops_rules import PassFacts
from bestseller_cli.product_kinds import snapshot_note
from bestseller_cli.routing import deliveries_for, top_sizes, unknown_zones
from bestseller_cli.slack import SlackMessage, SlackSender

log = logging.getLogger(__name__)

# Stop fetching this long before the deadline, to leave time to write and deliver.
DEADLINE_MARGIN_SECONDS = 60.0
STOPPED_BY_SIGTERM = (
    "stopped by SIGTERM: the batch in hand was finished; the next run resumes the rest"
)
# The work list is read in pages of this many batches: one extra round trip per 50 batches.
BATCHES_PER_WORK_PAGE = 50


@dataclass(frozen=True)
class PassOptions:
    """What the operator asked of a pass: `check`'s options."""

    asins: tuple[str, ...] | None = None  # only these ASINs
    client: str | None = None  # only this client's ASINs
    dry_run: bool = False  # fetch and diff; write, send and buy nothing else

    @property
    def filtered(self) -> bool:
        return self.asins is not None or self.client is not None

    @property
    def asin_list(self) -> list[str] | None:
        return None if self.asins is None else list(self.asins)


def print_nothing(message: SlackMessage) -> None:
    """Alerts without a Slack token go nowhere unless the caller shows them."""


def report_no_progress(done: int, total: int) -> None:
    """Progress goes nowhere unless the caller draws it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PassHooks:
    """How a pass reaches its caller. `show` prints alerts when there is no Slack token;
    `clock` tells detection and delivery times (tests move it across quiet hours); once
    `stop` is set (SIGTERM), the batch in hand is finished and written, nothing more is
    fetched or posted, and the run stays resumable."""

    show: Callable[[SlackMessage], None] = print_nothing
    on_progress: Callable[[int, int], None] = report_no_progress
    clock: Callable[[], datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class PassContext:
    """What one pass carries from batch to batch."""

    conn: psycopg.Connection
    settings: Settings
    options: PassOptions
    hooks: PassHooks
    deadline: float  # time.monotonic(): no Keepa request starts after it
    run_id: int | None
    summary: CheckSummary
    rules: tuple
    names: NameBudget
    calls: list[ApiCall] = field(default_factory=list)
    errors: list[ErrorEvent] = field(default_factory=list)
    delivery: Delivery | None = None  # None on a dry run
    tokens_left: int | None = None  # as Keepa's latest answer said
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_call(self, call: ApiCall) -> None:
        """Keepa's client reports each call here, from the threads fetching ahead too."""
        with self.lock:
            self.calls.append(call)
            if call.tokens_left is not None:
                self.tokens_left = call.tokens_left

    def take_calls(self) -> list[ApiCall]:
        """The calls reported so far, to be written; later ones go to the next write."""
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


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
                check_store.check_selection(conn, asins=options.asin_list, client=options.client)
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
        run_id, summary.resumed = check_store.start_run(
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
    selection = check_store.WorkSelection(
        run_id=run_id, asins=options.asin_list, client=options.client
    )
    summary.asins_to_check = summary.tokens_needed = check_store.count_work(conn, selection)
    work = check_store.work_chunks(
        conn, selection, page_size=settings.batch_size * BATCHES_PER_WORK_PAGE
    )
    keepa = KeepaClient.from_settings(
        settings,
        on_call=context.record_call,
        on_error=context.errors.append,
        deadline=deadline,
        stop=hooks.stop,
    )
    try:
        with keepa:
            if summary.asins_to_check:
                summary.tokens_available = token_budget(keepa, context)
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
        check_store.finish_run(conn, run_id=run_id, status=status, summary=run_record(summary))


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


def token_budget(keepa: KeepaClient, context: PassContext) -> int | None:
    """Tokens Keepa has now (the /token call is free); a pass needs one per ASIN."""
    try:
        status = keepa.token_status()
    except KeepaAuthError:
        raise
    except KeepaError as exc:
        context.summary.warnings.append(f"could not read the Keepa token balance: {exc}")
        return None
    context.summary.refill_per_minute = status.refill_rate
    if status.tokens_left < context.summary.tokens_needed:
        context.summary.warnings.append(
            f"this pass needs {context.summary.tokens_needed} Keepa tokens and"
            f" {status.tokens_left} are available now (refill {status.refill_rate}/min)"
        )
    return status.tokens_left


def fetch_all(
    keepa: KeepaClient,
    context: PassContext,
    work: Iterator[tuple[str, list[str]]],
) -> None:
    """Fetch and process the work chunk by chunk; once stopped, the rest is listed unchecked."""
    summary = context.summary
    for marketplace, asins in work:
        left = asins
        if summary.stopped_because is None:
            left = fetch_chunk(keepa, context, marketplace, asins)
        summary.unchecked += [f"{asin} ({marketplace})" for asin in left]


def fetch_chunk(
    keepa: KeepaClient,
    context: PassContext,
    marketplace: str,
    asins: list[str],
) -> list[str]:
    """Batch after batch, each written and alerted while the next ones are fetched; returns
    the ASINs of `asins` left unprocessed."""
    summary = context.summary

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


def note_product_kind(summary: CheckSummary, snapshot: ProductSnapshot) -> None:
    """Products Keepa has no ranks for, by kind: a parent's children are what to track."""
    note = snapshot_note(snapshot)
    if note and snapshot.product_type == VARIATION_PARENT:
        summary.variation_parents.append(note)
    elif note and snapshot.product_type == INVALID:
        summary.invalid.append(note)


def process_batch(
    context: PassContext,
    marketplace: str,
    requested: list[str],
    products: list[ProductSnapshot],
    *,
    keepa: KeepaClient,
) -> tuple[list[int], list[tuple[str, int]]]:
    """Name, diff and write a batch: one read, /category lookups if needed, one write.
    Returns the outbox ids it queued and the (marketplace, category) pairs whose badge
    moved."""
    received_at = time.monotonic()
    observed_at = context.hooks.clock()
    summary = context.summary
    categories = sorted({c for snapshot in products for c in snapshot.category_ranks})
    known = check_store.load_batch(
        context.conn, marketplace=marketplace, asins=requested, category_ids=categories
    )
    badge_categories = {
        category
        for snapshot in products
        for category, entry in snapshot.category_ranks.items()
        if entry.rank == 1
    } | {
        category
        for entry in known.asins.values()
        if entry.previous
        for category in entry.previous.badges
    }
    named = name_batch(
        keepa,
        marketplace=marketplace,
        snapshots=products,
        cached=known.names,
        first=badge_categories,
        budget=context.names,
        now=observed_at,
        on_error=context.errors.append,
    )
    rules_by_client, defaults = context.rules
    top = top_sizes([defaults, *(rule for rules in rules_by_client.values() for rule in rules)])
    stale_before = observed_at - timedelta(hours=context.settings.keepa_stale_hours)
    observed: list[check_store.ObservedProduct] = []
    missing: list[ProductSnapshot] = []
    changes: list[Change] = []
    deliveries = []
    unknown_after = context.settings.keepa_missing_passes_unknown
    for snapshot in products:
        entry = known.asins.get(snapshot.asin)
        if entry is None:  # removed from tracking while the pass ran
            continue
        if snapshot.missing:
            missing.append(snapshot)
            label = f"{snapshot.asin} ({snapshot.marketplace})"
            summary.missing_from_keepa.append(label)
            if entry.missing_passes + 1 == unknown_after:
                summary.now_unknown.append(label)
            continue
        snapshot = with_names(snapshot, named.names)
        result = observe(entry.previous, snapshot, observed_at=observed_at, top=top)
        summary.unavailable += not snapshot.available
        summary.baselines += result.is_baseline
        summary.stale += bool(snapshot.last_update and snapshot.last_update < stale_before)
        note_product_kind(summary, snapshot)
        observed.append(
            check_store.ObservedProduct(
                snapshot=snapshot,
                state=result.state,
                observed_at=observed_at,
                moved_ranks=moved_ranks(
                    entry.previous, result.state, main_category_id=snapshot.main_category_id
                ),
            )
        )
        changes.extend(result.changes)
        for change in result.changes:
            deliveries += deliveries_for(
                change,
                trackers=entry.trackers,
                rules_by_client=rules_by_client,
                defaults=defaults,
                main_category_id=snapshot.main_category_id,
            )
    for change in changes:
        summary.counts[change.kind] += 1
    summary.changes += changes
    calls = context.take_calls()
    summary.tokens_used += sum(call.tokens_consumed or 0 for call in calls)
    if context.options.dry_run or context.run_id is None:
        context.conn.rollback()
        return [], []
    _, queued = check_store.write_batch(
        context.conn,
        run_id=context.run_id,
        marketplace=marketplace,
        products=observed,
        names=named.rows,
        changes=changes,
        deliveries=deliveries,
        calls=calls,
        token_cost_usd=context.settings.keepa_token_cost_usd,
        missing=missing,
        missing_unknown_after=unknown_after,
    )
    summary.alerts_queued += len(queued)
    latency = (time.monotonic() - received_at) * 1000
    slowest = max(summary.detection_latency_ms_max or 0.0, latency)
    summary.detection_latency_ms_max = round(slowest, 1)
    categories = {(change.marketplace, change.category_id) for change in changes}
    return queued, sorted(categories)


def note_operations(
    conn: psycopg.Connection,
    *,
    settings: Settings,
    summary: CheckSummary,
    failure: Exception | None,
    hooks: PassHooks,
) -> None:
    """Judge the operations conditions after a pass, finished or failed (ops.py)."""
    if summary.dry_run or summary.run_id is None or summary.interrupted:
        return  # SIGTERM: nothing more is posted; the next pass judges
    rejected = failure.status if isinstance(failure, KeepaAuthError) else None
    answered = rejected is not None or summary.tokens_available is not None or summary.checked
    facts = PassFacts(
        now=hooks.clock(),
        finished=failure is None,
        keepa_answered=bool(answered),
        keepa_rejected_status=rejected,
        unchecked_for_tokens=len(summary.unchecked) if summary.stopped_for == "tokens" else 0,
        refill_per_minute=summary.refill_per_minute,
        deadline_hit=summary.stopped_for == "deadline",
        unchecked=len(summary.unchecked),
        run_deadline_minutes=settings.run_deadline_minutes,
    )
    sender = SlackSender.from_settings(settings) if settings.slack_bot_token else None
    summary.conditions = watch_operations(
        conn, settings, facts=facts, run_id=summary.run_id, sender=sender, show=hooks.show
    )


def absorb(summary: CheckSummary, report: DeliveryReport, context: PassContext) -> None:
    summary.alerts_sent = report.sent
    summary.alerts_printed = report.printed
    summary.alerts_refused = report.refused
    summary.alerts_expired = report.expired
    summary.alerts_refused_because = report.refusals
    summary.alerts_recovered = report.recovered
    summary.alerts_folded_into_flapping = report.suppressed
    summary.alerts_undelivered = report.pending
    summary.alerts_updated = report.updated
    context.errors += report.errors


def flush_records(context: PassContext) -> None:
    """API calls outside a written batch (failures, /token) and errors, in one transaction."""
    calls = context.take_calls()
    context.summary.tokens_used += sum(call.tokens_consumed or 0 for call in calls)
    with context.conn.transaction():
        log_store.record_api_calls(
            context.conn,
            calls,
            run_id=context.run_id,
            token_cost_usd=context.settings.keepa_token_cost_usd,
        )
        log_store.record_errors(context.conn, context.errors, run_id=context.run_id)
    context.errors.clear()


def record_failure(context: PassContext) -> None:
    """Best effort on the way out of a failed pass: the connection may be the problem. The
    run stays resumable either way."""
    try:
        flush_records(context)
        if context.run_id is not None:
            status = "partial" if context.summary.checked else "failed"
            summary = run_record(context.summary)
            check_store.finish_run(
                context.conn, run_id=context.run_id, status=status, summary=summary
            )
    except psycopg.Error as exc:
        log.warning("could not record the failure of this pass: %s", db.first_line(exc))
        log.debug("the failure to record it", exc_info=True)


def run_record(summary: CheckSummary) -> dict[str, object]:
    """What check_runs keeps of the pass: the log line's record, free of secrets."""
    return output.redacted(summary.log_record())
