"""Where a pass writes: the run, each batch's outcome in one statement, the Keepa calls and
errors outside a batch, the run's end. A dry run gets `DryRecorder`, which writes nothing,
instead of a flag asked in many places.
"""

import logging
from datetime import timedelta

import psycopg

from bestseller_cli.config import Settings
from bestseller_cli.models import ApiCall, ErrorEvent
from bestseller_cli.rules.batch_diff import BatchOutcome
from bestseller_cli.store import check_store, failures, log_store, run_store

log = logging.getLogger(__name__)

# A pass ended at its deadline (by its watchdog, or killed then) is still resumed by a run
# started right after it, such as a restart after the failure.
RESUME_GRACE = timedelta(minutes=5)


class RunRecorder:
    """The pass's writes, on its autocommit connection."""

    def __init__(self, conn: psycopg.Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.run_id: int | None = None

    def start(self, *, filtered: bool) -> tuple[int | None, bool]:
        """The run this pass records under, and whether it resumes an unfinished one."""
        window = timedelta(minutes=self.settings.run_deadline_minutes) + RESUME_GRACE
        self.run_id, resumed = run_store.start_run(
            self.conn, resume_within=window, filtered=filtered
        )
        return self.run_id, resumed

    def write(self, outcome: BatchOutcome, calls: list[ApiCall]) -> list[int]:
        """One batch, with its Keepa calls, in one round trip: the outbox ids it queued."""
        assert self.run_id is not None
        return check_store.write_batch(
            self.conn,
            outcome,
            run_id=self.run_id,
            calls=calls,
            token_cost_usd=self.settings.keepa_token_cost_usd,
        )

    def flush(self, calls: list[ApiCall], errors: list[ErrorEvent]) -> None:
        """API calls outside a written batch (failures, /token) and errors, in one
        transaction."""
        with self.conn.transaction():
            log_store.record_api_calls(
                self.conn,
                calls,
                run_id=self.run_id,
                token_cost_usd=self.settings.keepa_token_cost_usd,
            )
            log_store.record_errors(self.conn, errors, run_id=self.run_id)

    def finish(self, *, status: str, record: dict[str, object]) -> None:
        if self.run_id is not None:
            run_store.finish_run(self.conn, run_id=self.run_id, status=status, summary=record)

    def fail(self, calls: list[ApiCall], errors: list[ErrorEvent], **finish: object) -> None:
        """Best effort on the way out of a failed pass: the connection may be the problem.
        The run stays resumable either way."""
        try:
            self.flush(calls, errors)
            self.finish(**finish)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            # A lost connection is the failure itself, told once by the error line.
            quiet = self.conn.broken or exc.sqlstate in failures.UNWRITABLE
            report = log.debug if quiet else log.warning
            report("could not record the failure of this pass: %s", failures.first_line(exc))
            log.debug("the failure to record it", exc_info=True)


class DryRecorder(RunRecorder):
    """A dry run: fetch and diff, write nothing."""

    def start(self, *, filtered: bool) -> tuple[int | None, bool]:
        return None, False

    def write(self, outcome: BatchOutcome, calls: list[ApiCall]) -> list[int]:
        return []

    def flush(self, calls: list[ApiCall], errors: list[ErrorEvent]) -> None:
        pass

    def finish(self, *, status: str, record: dict[str, object]) -> None:
        pass

    def fail(self, calls: list[ApiCall], errors: list[ErrorEvent], **finish: object) -> None:
        pass
