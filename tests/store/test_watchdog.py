"""Every database call is bounded: the session's limits are SET, and the run deadline's
watchdog ends a call the database never answers (a silent partition through the fault
proxy) or answers too slowly."""

import threading
from collections.abc import Iterator

import psycopg
import pytest

from bestseller_cli.store import db, watchdog
from bestseller_cli.store.watchdog import Watchdog
from fakes.fault_proxy import FaultProxy, upstream_of


@pytest.fixture
def proxy(database_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_of(database_url)) as running:
        yield running


def test_every_session_sets_its_limits_after_connecting(database_url: str) -> None:
    limits = db.SessionLimits(statement_timeout_seconds=42, idle_session_seconds=3300)
    with db.connect(database_url, limits=limits) as conn:
        assert db.session_limits(conn) == {
            "statement_timeout": "42s",
            "lock_timeout": "10s",
            "idle_in_transaction_session_timeout": "10min",
            "idle_session_timeout": "55min",
        }


def test_a_query_the_database_never_answers_ends_as_a_lost_connection_at_the_deadline(
    database_url: str, proxy: FaultProxy
) -> None:
    exits: list[int] = []
    with db.connect(proxy.url(database_url), autocommit=True) as conn:
        proxy.partition()
        dog = Watchdog(seconds=0.5, last_words="ended", exit_process=exits.append)
        with dog, pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        assert dog.fired and conn.broken and watchdog.connection_lost()
    assert exits == []  # the call ended: the process did not have to be


def test_a_slow_statement_is_cancelled_at_the_deadline_and_the_session_stays_usable(
    database_url: str,
) -> None:
    with db.connect(database_url, autocommit=True) as conn:
        dog = Watchdog(seconds=0.5, last_words="ended", exit_process=lambda code: None)
        with dog, pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(60)")
        assert dog.fired and not conn.broken
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_block_still_waiting_after_the_sockets_are_shut_ends_the_process_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(watchdog, "SHUTDOWN_AFTER_SECONDS", 0.01)
    monkeypatch.setattr(watchdog, "EXIT_AFTER_SECONDS", 0.01)
    exits: list[int] = []
    with Watchdog(seconds=0.01, last_words="the pass was ended", exit_process=exits.append):
        [dog] = [thread for thread in threading.enumerate() if thread.name == "run-deadline"]
        dog.join(timeout=10)  # the block "hangs" until the watchdog is done with it
    assert exits == [1]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "the pass was ended"
    ]


def test_a_block_that_ends_in_time_leaves_the_watchdog_quiet() -> None:
    exits: list[int] = []
    with Watchdog(seconds=60, last_words="never", exit_process=exits.append) as dog:
        pass
    assert not dog.fired and exits == []
