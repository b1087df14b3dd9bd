"""The fetch loop: Keepa's answers batch after batch, each written and alerted while the next
ones are fetched (keepa/ahead.py), until the work is done or something stops it. Why it
stopped is a `StopReason`; the sentence people read is derived from it.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import Enum

from bestseller_cli.alerts.delivery import Deliverer
from bestseller_cli.check.batch import process_batch
from bestseller_cli.check.category_names import NameBudget
from bestseller_cli.check.context import Pass
from bestseller_cli.check.record import RunRecorder
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.ahead import fetch_ahead
from bestseller_cli.keepa.answers import KeepaOutOfTokens
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ErrorEvent, ProductSnapshot
from bestseller_cli.rules.batch_diff import BatchCounts
from bestseller_cli.rules.schedule import history_days
from bestseller_cli.store import run_store


class StopReason(Enum):
    """Why the fetch loop ended."""

    FINISHED = "finished"  # all the work was fetched
    SIGTERM = "sigterm"
    DEADLINE = "deadline"
    TOKENS = "tokens"  # Keepa is out of tokens
    KEEPA = "keepa"  # a Keepa request failed

    def sentence(self, detail: str = "") -> str | None:
        """What `check` says of it (None: nothing stopped the pass)."""
        return {
            StopReason.FINISHED: None,
            StopReason.SIGTERM: STOPPED_BY_SIGTERM,
            StopReason.DEADLINE: "the run deadline (RUN_DEADLINE_MINUTES) is near",
            StopReason.TOKENS: f"Keepa is out of tokens ({detail})",
            StopReason.KEEPA: f"Keepa failed: {detail}",
        }[self]


STOPPED_BY_SIGTERM = (
    "stopped by SIGTERM: the batch in hand was finished; the next run resumes the rest"
)


@dataclass(frozen=True)
class Stopped:
    reason: StopReason = StopReason.FINISHED
    detail: str = ""  # Keepa's error, for TOKENS and KEEPA

    @property
    def because(self) -> str | None:
        return self.reason.sentence(self.detail)


class FetchLoop:
    """One pass's fetching: `batches` yields what each written batch counts; once it is
    done, `stopped` says why and `unchecked` lists the ASINs left for the next run."""

    def __init__(
        self,
        run: Pass,
        *,
        keepa: KeepaClient,
        names: NameBudget,
        recorder: RunRecorder,
        delivery: Deliverer,
    ) -> None:
        self.run, self.keepa, self.names = run, keepa, names
        self.recorder, self.delivery = recorder, delivery
        self.stopped: Stopped | None = None
        self.unchecked: list[str] = []

    def batches(self, work: Iterator[run_store.WorkChunk]) -> Iterator[BatchCounts]:
        """Chunk by chunk; once stopped, the rest of the work is listed unchecked."""
        for chunk in work:
            processed: set[str] = set()
            if self.stopped is None:
                for counts, asins in self.chunk(chunk):
                    processed.update(asins)
                    yield counts
            left = [asin for asin in chunk.asins if asin not in processed]
            self.unchecked += [f"{asin} ({chunk.marketplace})" for asin in left]
        self.stopped = self.stopped or Stopped()

    def chunk(self, chunk: run_store.WorkChunk) -> Iterator[tuple[BatchCounts, list[str]]]:
        """Each request's series reach back past its batch's oldest check, so nothing Keepa
        recorded in between is missed."""
        run = self.run
        for fetched in fetch_ahead(
            self.keepa,
            marketplace=chunk.marketplace,
            asins=chunk.asins,
            batch_size=run.settings.batch_size,
            ahead=run.settings.keepa_requests_ahead,
            may_request=self.may_request,
            tokens_left=lambda: run.log.tokens_left,
            days_for=days_for(chunk, run),
            live=chunk.live,
        ):
            if fetched.products is None:
                self.stop_fetching(fetched.error)
                continue
            counts = self.one_batch(
                chunk.marketplace, fetched.asins, fetched.products, live=chunk.live
            )
            yield counts, fetched.asins

    def one_batch(
        self, marketplace: str, asins: list[str], products: list[ProductSnapshot], *, live: bool
    ) -> BatchCounts:
        """Read and diff (check/batch.py), write in one round trip, deliver its alerts."""
        received_at = time.monotonic()
        outcome = process_batch(
            self.run, marketplace, asins, products, keepa=self.keepa, names=self.names
        )
        queued = self.recorder.write(outcome, self.run.log.take_calls())
        latency = (time.monotonic() - received_at) * 1000
        self.delivery.batch(ids=queued, categories=outcome.categories, now=self.run.hooks.clock())
        return replace(
            outcome.counts,
            checked=len(asins),
            alerts_queued=len(queued),
            live_checks=len(asins) if live else 0,
            latency_ms=latency if self.recorder.run_id is not None else None,
        )

    def may_request(self) -> bool:
        if self.run.hooks.stop.is_set():
            self.stopped = Stopped(StopReason.SIGTERM)
            return False
        if time.monotonic() <= self.run.deadline:
            return True
        self.stopped = Stopped(StopReason.DEADLINE)
        return False

    def stop_fetching(self, error: Exception | None) -> None:
        """A failed request ends the fetching; the answers already paid for are still
        processed."""
        if isinstance(error, KeepaAuthError) or not isinstance(error, KeepaError):
            raise error or AssertionError("a batch without products or error")
        if self.stopped is not None:
            return
        if isinstance(error, KeepaOutOfTokens):
            self.stopped = Stopped(StopReason.TOKENS, str(error))
            return
        message = str(error)
        self.run.log.record_error(
            ErrorEvent(source="keepa", kind="request_failed", message=message)
        )
        if self.run.hooks.stop.is_set():
            self.stopped = Stopped(StopReason.SIGTERM)
            return
        self.stopped = Stopped(StopReason.KEEPA, message)


def days_for(chunk: run_store.WorkChunk, run: Pass) -> Callable[[list[str]], int]:
    least = run.settings.keepa_history_days

    def days(batch: list[str]) -> int:
        since = (chunk.since.get(asin) for asin in batch)
        return history_days(since, now=run.hooks.clock(), least=least)

    return days
