"""The end of a pass, finished or failed: the delivery report absorbed into the summary, the
Keepa calls and errors written, the run recorded, the operations conditions judged."""

import logging

import psycopg

from bestseller_cli import output
from bestseller_cli.alerts.delivery import DeliveryReport
from bestseller_cli.alerts.operations import watch_operations
from bestseller_cli.check.context import PassContext, PassHooks
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError
from bestseller_cli.rules.ops_rules import PassFacts
from bestseller_cli.store import failures, log_store, run_store

log = logging.getLogger(__name__)


def note_operations(
    conn: psycopg.Connection,
    *,
    settings: Settings,
    summary: CheckSummary,
    failure: Exception | None,
    hooks: PassHooks,
) -> None:
    """Judge the operations conditions after a pass, finished or failed (alerts/operations.py)."""
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
        plan_too_small=summary.plan_too_small,
        past_ceiling=summary.past_ceiling,
        refill_per_minute=summary.refill_per_minute,
        deadline_hit=summary.stopped_for == "deadline",
        unchecked=len(summary.unchecked),
        run_deadline_minutes=settings.run_deadline_minutes,
        stale_lock_ended=summary.stale_lock_ended,
    )
    summary.conditions = watch_operations(
        conn, settings, facts=facts, run_id=summary.run_id, channel=hooks.channels(conn, settings)
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
    summary.charts_posted = report.charts
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
            run_store.finish_run(
                context.conn, run_id=context.run_id, status=status, summary=summary
            )
    except psycopg.Error as exc:
        # A lost connection is the failure itself, told once by the error line.
        quiet = context.conn.broken or exc.sqlstate in failures.UNWRITABLE
        report = log.debug if quiet else log.warning
        report("could not record the failure of this pass: %s", failures.first_line(exc))
        log.debug("the failure to record it", exc_info=True)


def run_record(summary: CheckSummary) -> dict[str, object]:
    """What check_runs keeps of the pass: the log line's record, free of secrets."""
    return output.redacted(summary.log_record())
