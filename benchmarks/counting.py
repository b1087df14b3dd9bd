"""Count database round trips and time the phases of a pass, in the process that runs it.

A round trip is one wait for PostgreSQL's answer: psycopg runs every non-pipelined exchange
(BEGIN/COMMIT/SAVEPOINT, each statement, each PREPARE) through one `generators.execute`
generator, and every pipeline Sync through `_enqueue_sync`; both are wrapped here. Each
round trip is filed under the phase of the pass (`batch` = check.batch.process_batch and
check.record.RunRecorder.write, `delivery`, `records`, `pass` = everything else) and a label:
the store function that issued it and the statement's first word (e.g. `load_batch: SELECT`).
"""

import functools
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import psycopg._connection_base
import psycopg._cursor_base
import psycopg._pipeline_base
import psycopg.generators

from bestseller_cli.alerts import delivery
from bestseller_cli.check import fetch as pass_run
from bestseller_cli.check import record
from bestseller_cli.keepa import client as keepa_client
from bestseller_cli.store import (
    check_store,
    client_store,
    db,
    log_store,
    lookup_store,
    outbox_store,
    story_store,
)


@dataclass
class PassMeter:
    round_trips: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    seconds: Counter[str] = field(default_factory=Counter)
    cpu_seconds: Counter[str] = field(default_factory=Counter)
    database_seconds: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    rss_after_batch: list[float] = field(default_factory=list)  # MiB, resident now
    rss_marks: dict[str, float] = field(default_factory=dict)  # MiB, VmHWM before/after
    phase: str = "pass"
    caller: str = "monitor"
    statement: str = "?"

    def record(self) -> None:
        self.round_trips[self.phase][f"{self.caller}: {self.statement}"] += 1

    def totals(self) -> dict[str, int]:
        return {phase: sum(counts.values()) for phase, counts in self.round_trips.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "rss_after_batch_mib": _every_tenth(self.rss_after_batch),
            "peak_rss_marks_mib": self.rss_marks,
            "round_trips": self.totals(),
            "round_trips_by_statement": {
                phase: dict(counts.most_common()) for phase, counts in self.round_trips.items()
            },
            "phase_seconds": {name: round(value, 4) for name, value in self.seconds.items()},
            "phase_cpu_seconds": {
                name: round(value, 4) for name, value in self.cpu_seconds.items()
            },
            "database_seconds": {
                name: round(value, 4) for name, value in self.database_seconds.items()
            },
        }


def _every_tenth(samples: list[float]) -> dict[int, float]:
    """RSS after batch 1 and after every tenth of the batches, keyed by batch number."""
    if not samples:
        return {}
    step = max(1, len(samples) // 10)
    picks = sorted({0, *range(step - 1, len(samples), step), len(samples) - 1})
    return {index + 1: round(samples[index], 1) for index in picks}


def memory_mib(field_name: str) -> float:
    """VmRSS (resident now) or VmHWM (high-water mark) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _first_word(query: object) -> str:
    text = query.decode() if isinstance(query, bytes) else query
    if not isinstance(text, str):
        return type(query).__name__
    words = text.split(None, 1)
    return words[0].upper() if words else "?"


def install(meter: PassMeter) -> None:
    """Patch psycopg and the pass's modules; for a benchmark process only."""
    original_execute = psycopg.generators.execute

    def execute(pgconn: Any) -> Any:
        meter.record()
        return original_execute(pgconn)

    psycopg.generators.execute = execute  # used as generators.execute by connections
    psycopg._cursor_base.execute = execute  # imported by name by cursors

    pipeline = psycopg._pipeline_base.BasePipeline
    original_sync = pipeline._enqueue_sync

    def enqueue_sync(self: Any) -> None:
        meter.record()
        original_sync(self)

    pipeline._enqueue_sync = enqueue_sync

    connection = psycopg._connection_base.BaseConnection
    original_command = connection._exec_command

    def exec_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        meter.statement = _first_word(command if isinstance(command, bytes | str) else "SQL")
        return original_command(self, command, *args, **kwargs)

    connection._exec_command = exec_command

    for method in ("execute", "executemany"):
        original = getattr(psycopg.Cursor, method)

        def labelled(self: Any, query: Any, *args: Any, _original: Any = original, **kw: Any):
            meter.statement = _first_word(query)
            return _original(self, query, *args, **kw)

        setattr(psycopg.Cursor, method, labelled)

    original_wait = psycopg.Connection.wait

    def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_wait(self, gen, *args, **kwargs)
        finally:
            meter.database_seconds[meter.phase] += time.perf_counter() - started

    psycopg.Connection.wait = wait

    for module in (
        check_store,
        client_store,
        log_store,
        lookup_store,
        outbox_store,
        story_store,
        db,
    ):
        _label_callers(module, meter)
    # A batch: its read and diff (check/batch.py), then its one write (check/record.py).
    _phase(pass_run, "process_batch", "batch", meter, count_batches=True)
    _phase(record.RunRecorder, "write", "batch", meter)
    # Instant alerts go out after each batch (Delivery.batch), the rest after the last one.
    _phase(delivery.Delivery, "batch", "delivery", meter)
    _phase(delivery.Delivery, "sweep", "delivery", meter)
    _phase(record.RunRecorder, "flush", "records", meter)
    _time_keepa(meter)
    _time_keepa_wait(meter)


def _time_keepa_wait(meter: PassMeter) -> None:
    """Time the pass waits for Keepa's answers (requests ahead overlap the rest), its /token
    call and its /category lookups: what `wall - keepa_wait` leaves is the pass's own work."""
    original = pass_run.fetch_ahead

    @functools.wraps(original)
    def fetch_ahead(*args: Any, **kwargs: Any) -> Any:
        batches = original(*args, **kwargs)
        while True:
            started = time.perf_counter()
            try:
                fetched = next(batches)
            except StopIteration:
                return
            finally:
                meter.seconds["keepa_wait"] += time.perf_counter() - started
            yield fetched

    pass_run.fetch_ahead = fetch_ahead

    # The pass's own calls: /token before the first batch, /category lookups for names;
    # each at Keepa's latency too.
    for name in ("token_status", "category_names"):
        original_call = getattr(keepa_client.KeepaClient, name)

        @functools.wraps(original_call)
        def call(self: Any, *args: Any, _original: Any = original_call, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                meter.seconds["keepa_wait"] += time.perf_counter() - started

        setattr(keepa_client.KeepaClient, name, call)


def _label_callers(module: ModuleType, meter: PassMeter) -> None:
    for name, function in list(vars(module).items()):
        if not callable(function) or name.startswith("_") or isinstance(function, type):
            continue
        if getattr(function, "__module__", None) != module.__name__:
            continue

        @functools.wraps(function)
        def wrapper(*args: Any, _function: Callable = function, _name: str = name, **kw: Any):
            outer, meter.caller = meter.caller, _name
            try:
                return _function(*args, **kw)
            finally:
                meter.caller = outer

        setattr(module, name, wrapper)
    # delivery.py imports outbox_store as a module, monitor imports check_store, client_store,
    # log_store and db the same way: their calls go through the attributes patched above.
    assert delivery.outbox_store is outbox_store and delivery.story_store is story_store


def _phase(
    module: ModuleType | type,
    name: str,
    phase: str,
    meter: PassMeter,
    *,
    count_batches: bool = False,
) -> None:
    function = getattr(module, name, None)
    if function is None:  # the pass was restructured: that phase is filed under "pass"
        return

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer, meter.phase = meter.phase, phase
        if not count_batches:
            meter.rss_marks[f"before_{phase}"] = round(memory_mib("VmHWM"), 1)
        started, cpu = time.perf_counter(), time.thread_time()
        waited = meter.seconds["keepa_wait"]
        try:
            return function(*args, **kwargs)
        finally:
            # A /category lookup inside a batch is Keepa's time, counted there once.
            inside = meter.seconds["keepa_wait"] - waited
            meter.seconds[phase] += time.perf_counter() - started - inside
            meter.cpu_seconds[phase] += time.thread_time() - cpu
            meter.phase = outer
            if count_batches:
                meter.batches += 1
                meter.rss_after_batch.append(memory_mib("VmRSS"))
            else:
                meter.rss_marks[f"after_{phase}"] = round(memory_mib("VmHWM"), 1)

    setattr(module, name, wrapper)


def _time_keepa(meter: PassMeter) -> None:
    """Client-side time of each Keepa product request: HTTP, gunzip, JSON decode, parsing."""
    original = keepa_client.KeepaClient.fetch

    @functools.wraps(original)
    def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            meter.seconds["keepa_fetch"] += time.perf_counter() - started
            meter.cpu_seconds["keepa_fetch"] += time.thread_time() - cpu

    keepa_client.KeepaClient.fetch = fetch
