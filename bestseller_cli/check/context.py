"""What a pass is asked to do (`PassOptions`), how it reaches its caller (`PassHooks`), the
fixed collaborators it works with (`Pass`), and the log Keepa's client reports into
(`PassLog`)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import psycopg

from bestseller_cli.alerts.channels import open_channels, print_nothing
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.config import Settings
from bestseller_cli.models import ApiCall, ErrorEvent, Printed
from bestseller_cli.rules.batch_diff import DiffSettings

DEADLINE_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class PassOptions:
    """What the operator asked of a pass: `check`'s options."""

    asins: tuple[str, ...] | None = None  # only these ASINs, due or not
    client: str | None = None  # only this client's ASINs
    dry_run: bool = False  # fetch and diff; write, send and buy nothing else
    everything: bool = False  # --all: every ASIN now, due or not (a full pass)

    @property
    def scheduled(self) -> bool:
        """Only the ASINs due, most urgent first, within the run's budget."""
        return not self.everything and self.asins is None

    @property
    def filtered(self) -> bool:
        return self.asins is not None or self.client is not None

    @property
    def asin_list(self) -> list[str] | None:
        return None if self.asins is None else list(self.asins)


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

    show: Callable[[Printed], None] = print_nothing
    on_progress: Callable[[int, int], None] = report_no_progress
    clock: Callable[[], datetime] = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    # Keepa and the channel answered in this process (`bestseller demo`), not those the
    # settings name.
    keepa_transport: httpx.BaseTransport | None = None
    channel: AlertChannel | None = None

    def channels(self, conn: psycopg.Connection, settings: Settings) -> AlertChannel:
        """Where alerts go (alerts/channels.py): the channel given, else Slack (the printer
        without a token), and the rules' webhooks."""
        return open_channels(conn, settings, show=self.show, default=self.channel)


@dataclass(frozen=True)
class Pass:
    """The fixed collaborators of one pass, the same from its first batch to its last."""

    conn: psycopg.Connection
    settings: Settings
    options: PassOptions
    hooks: PassHooks
    deadline: float  # time.monotonic(): no Keepa request starts after it
    run_id: int | None  # None: a dry run
    given: DiffSettings  # the rules, cadence and limits every batch's diff uses
    log: "PassLog"


class PassLog:
    """Keepa's calls and the errors met, as the client reports them (from the threads
    fetching ahead too): taken out to be written, each once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._errors: list[ErrorEvent] = []
        self.tokens_left: int | None = None  # as Keepa's latest answer said
        self.tokens_used = 0  # by every call reported

    def record_call(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)
            self.tokens_used += call.tokens_consumed or 0
            if call.tokens_left is not None:
                self.tokens_left = call.tokens_left

    def record_error(self, error: ErrorEvent) -> None:
        with self._lock:
            self._errors.append(error)

    def record_errors(self, errors: list[ErrorEvent]) -> None:
        with self._lock:
            self._errors += errors

    def take_calls(self) -> list[ApiCall]:
        """The calls reported so far, to be written; later ones go to the next write."""
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def take_errors(self) -> list[ErrorEvent]:
        with self._lock:
            errors, self._errors = self._errors, []
        return errors
