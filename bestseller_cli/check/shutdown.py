"""Stopping cleanly on SIGTERM, the way Railway (and most schedulers) stop a job."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_sigterm() -> Iterator[threading.Event]:
    """An event set by SIGTERM while the block runs, instead of the process dying: the pass
    finishes the batch in hand, skips the rest, reports and exits, so that exit handlers
    (the embedded PostgreSQL's stop among them) run."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)
