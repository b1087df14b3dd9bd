"""The run deadline as a hard wall-clock limit over every database call (SUPABASE.md §0.2).

TCP keepalives and `tcp_user_timeout` catch a link that drops silently, `statement_timeout`
a statement the server is slow at; a peer that keeps the socket open and never answers (a
pooler that stops answering, a partition behind a proxy or NAT) defeats all of them, and
Railway never kills a hung cron run: it skips every later tick instead. The watchdog does
not wait: at the deadline it cancels what each connection is doing (psycopg's
`cancel_safe`); where the cancel cannot get through it shuts the sockets, which ends the
blocked call with a lost connection; and if the process is still not done, it ends it with
one line and exit 1. Every batch commits on its own, so the next run resumes the pass.

Every connection `db.connect` opens is tracked here (weakly), for the watchdog and for the
question "is a connection lost?" (`conn.broken`, never the exception's class).
"""

import contextlib
import logging
import os
import socket
import sys
import threading
import weakref
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

CANCEL_TIMEOUT_SECONDS = 5.0
# After the cancel, how long the pass has to record its failure before the sockets are
# shut, and then before the process is ended.
SHUTDOWN_AFTER_SECONDS = 10.0
EXIT_AFTER_SECONDS = 10.0

_lock = threading.Lock()
_connections: "weakref.WeakSet[psycopg.Connection]" = weakref.WeakSet()


def track(conn: psycopg.Connection) -> None:
    with _lock:
        _connections.add(conn)


def tracked() -> list[psycopg.Connection]:
    with _lock:
        return [conn for conn in _connections if not conn.closed]


def connection_lost() -> bool:
    """Whether a connection of this process broke (psycopg's `conn.broken`): the statement
    in flight may or may not have been carried out."""
    with _lock:
        return any(conn.broken for conn in _connections)


def shut(conn: psycopg.Connection) -> None:
    """End whatever waits on the connection's socket: the call in flight fails at once as a
    lost connection. The socket is shut, not closed: libpq still owns the descriptor."""
    try:
        fd = os.dup(conn.fileno())
    except (OSError, psycopg.Error):
        return
    with socket.socket(fileno=fd) as sock, contextlib.suppress(OSError):  # OSError: gone
        sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """Armed for a block: `seconds` after entering it, cancel, shut, then end the process
    with `last_words` (one error line) and exit 1. `fired` says whether it went off."""

    def __init__(
        self,
        *,
        seconds: float,
        last_words: str,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        self.seconds = seconds
        self.last_words = last_words
        self.fired = False
        self._exit_process = exit_process
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="run-deadline", daemon=True)

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.fired = True
        log.debug("the run deadline passed: cancelling the database calls in flight")
        connections = tracked()
        stuck = False
        for conn in connections:
            try:
                conn.cancel_safe(timeout=CANCEL_TIMEOUT_SECONDS)
            except Exception as exc:  # the cancel request could not get through either
                log.debug("cancel failed (%s): shutting the connection", exc)
                stuck = True
        if not stuck and self._done.wait(SHUTDOWN_AFTER_SECONDS):
            return
        for conn in tracked():
            shut(conn)
        if self._done.wait(EXIT_AFTER_SECONDS):
            return
        log.error(self.last_words, extra={"event": "error", "fields": {"exit_code": 1}})
        sys.stderr.flush()
        sys.stdout.flush()
        self._exit_process(1)
