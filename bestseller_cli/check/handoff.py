"""The end of a pass, finished or failed: the operations conditions judged from what the
pass's steps returned (alerts/operations.py), and the run's record."""

from collections.abc import Callable
from datetime import datetime

import psycopg

from bestseller_cli import output
from bestseller_cli.alerts.operations import watch_operations
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.check.fetch import StopReason
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.check.tally import PassTally
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError
from bestseller_cli.rules.ops_rules import PassFacts


def pass_facts(
    tally: PassTally, *, settings: Settings, failure: Exception | None, now: datetime
) -> PassFacts:
    """What the operations rules judge (rules/ops_rules.py), from the pass's values."""
    plan = tally.plan
    rejected = failure.status if isinstance(failure, KeepaAuthError) else None
    available = plan.tokens_available if plan else None
    answered = rejected is not None or available is not None or tally.checked
    out_of_tokens = tally.stop_reason is StopReason.TOKENS
    return PassFacts(
        now=now,
        finished=failure is None,
        keepa_answered=bool(answered),
        keepa_rejected_status=rejected,
        unchecked_for_tokens=len(tally.unchecked) if out_of_tokens else 0,
        plan_too_small=plan.plan_too_small if plan else None,
        past_ceiling=plan.past_ceiling if plan else 0,
        refill_per_minute=plan.refill_per_minute if plan else None,
        deadline_hit=tally.stop_reason is StopReason.DEADLINE,
        unchecked=len(tally.unchecked),
        run_deadline_minutes=settings.run_deadline_minutes,
        stale_lock_ended=tally.lock.stale_ended,
    )


def note_operations(
    conn: psycopg.Connection,
    *,
    settings: Settings,
    tally: PassTally,
    failure: Exception | None,
    now: datetime,
    channels: Callable[[], AlertChannel],
) -> list[str]:
    """The open operations conditions after a pass, finished or failed."""
    if tally.dry_run or tally.run_id is None or tally.interrupted:
        return []  # SIGTERM: nothing more is posted; the next pass judges
    facts = pass_facts(tally, settings=settings, failure=failure, now=now)
    return watch_operations(conn, settings, facts=facts, run_id=tally.run_id, channel=channels())


def run_record(summary: CheckSummary) -> dict[str, object]:
    """What check_runs keeps of the pass: the log line's record, free of secrets."""
    return output.redacted(summary.log_record())
