"""The dead man's switch: `check` pings HEALTHCHECK_URL start → success or start → fail,
and a monitor that cannot be reached never changes the run's exit code."""

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.healthcheck import ping_url
from bestseller_cli.cli.app import app
from bestseller_cli.store import asin_store, db, lock_holders
from fakes.keepa_server import FakeKeepa

SECRET = "5f0e6b1c-ping-secret"
# Keepa is faked by pytest-httpx in this process; the monitor is a real loopback server.
pytestmark = pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")


class PingServer:
    """A loopback cron monitor that records the paths it is pinged on."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorded = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/ping/{SECRET}"


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[PingServer]:
    server = PingServer()
    monkeypatch.setenv("HEALTHCHECK_URL", server.url)
    yield server
    server.http.shutdown()
    server.http.server_close()


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_good_run_pings_start_then_success(
    keepa: FakeKeepa, conn: psycopg.Connection, monitor: PingServer
) -> None:
    asin_store.add_tracked(conn, asins=["B0PINGOK01"], marketplace="com", client=None)
    keepa.set_ranks("B0PINGOK01", {289913: 2})
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert monitor.paths == [f"/ping/{SECRET}/start", f"/ping/{SECRET}"]


def test_a_failed_run_pings_start_then_fail(
    keepa: FakeKeepa, conn: psycopg.Connection, monitor: PingServer
) -> None:
    asin_store.add_tracked(conn, asins=["B0PINGBAD1"], marketplace="com", client=None)
    keepa.fail_next = [400]
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2
    assert monitor.paths == [f"/ping/{SECRET}/start", f"/ping/{SECRET}/fail"]


@pytest.mark.parametrize(
    ("keepa_answers", "url"),
    [
        (200, "http://127.0.0.1:{port}/ping/{secret}"),
        (400, "http://127.0.0.1:{port}/ping/{secret}"),
    ],
)
def test_an_unreachable_monitor_leaves_the_exit_code_and_hides_the_url(
    keepa: FakeKeepa,
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    keepa_answers: int,
    url: str,
) -> None:
    monkeypatch.setenv("HEALTHCHECK_URL", url.format(port=unused_port(), secret=SECRET))
    monkeypatch.setenv("LOG_LEVEL", "info")
    asin_store.add_tracked(conn, asins=["B0PINGOFF1"], marketplace="com", client=None)
    keepa.set_ranks("B0PINGOFF1", {289913: 2})
    keepa.fail_next = [keepa_answers] if keepa_answers != 200 else []
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == (0 if keepa_answers == 200 else 2), result.output
    assert "HEALTHCHECK_URL start ping failed (attempt 2)" in result.output
    assert SECRET not in result.output


def test_a_run_that_skips_because_a_live_pass_holds_the_lock_pings_no_success(
    keepa: FakeKeepa, conn: psycopg.Connection, monitor: PingServer, database_url: str
) -> None:
    asin_store.add_tracked(conn, asins=["B0PINGLOCK"], marketplace="com", client=None)
    name = lock_holders.session_name(since=datetime.now(UTC), run_id=7)
    with psycopg.connect(database_url, autocommit=True, application_name=name) as live:
        live.execute("SELECT pg_advisory_lock(%s)", (db.RUN_LOCK_ID,))
        result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "another check is running" in result.output
    # The live pass reports itself; this one checked nothing, so it claims no success.
    assert monitor.paths == [f"/ping/{SECRET}/start"]


def test_a_dry_run_pings_nothing(
    keepa: FakeKeepa, conn: psycopg.Connection, monitor: PingServer
) -> None:
    asin_store.add_tracked(conn, asins=["B0PINGDRY1"], marketplace="com", client=None)
    keepa.set_ranks("B0PINGDRY1", {289913: 2})
    assert CliRunner().invoke(app, ["check", "--dry-run"]).exit_code == 0
    assert monitor.paths == []


def test_monitors_that_read_exit_codes_get_the_code() -> None:
    url = "https://hc-ping.com/0f1e2d3c"
    assert ping_url(url, "fail", exit_code=2) == "https://hc-ping.com/0f1e2d3c/2"
    assert ping_url(url + "/", "start") == "https://hc-ping.com/0f1e2d3c/start"
    cronitor = "https://cronitor.link/p/KEY/nightly?env=prod"
    assert (
        ping_url(cronitor, "fail", exit_code=1)
        == "https://cronitor.link/p/KEY/nightly/fail?env=prod"
    )
    assert ping_url(cronitor, "success") == cronitor
