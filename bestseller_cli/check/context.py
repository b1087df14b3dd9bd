"""What a pass is asked to do (`PassOptions`), how it reaches its caller (`PassHooks`), and what
it carries from batch to batch (`PassContext`)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import psycopg

from bestseller_cli.alerts.channels import open_channels, print_nothing
from bestseller_cli.alerts.delivery import Delivery
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.check.category_names import NameBudget
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import Settings
from bestseller_cli.models import ApiCall, ErrorEvent, Printed
from bestseller_cli.rules.schedule import Cadence

DEADLINE_MARGIN_SECONDS = 60.0
STOPPED_BY_SIGTERM = (
    "stopped by SIGTERM: the batch in hand was finished; the next run resumes the rest"
)


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
    cadence: Cadence = field(default_factory=Cadence)
    token_budget: int | None = None  # a scheduled run's share of the plan, in tokens

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
