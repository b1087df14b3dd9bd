"""A webhook receiver on 127.0.0.1 (the loopback exception) verifies every request with
the Standard Webhooks reference library, and sees every alert at least once under one
`webhook-id` per alert: through retries and across a crash between send and record."""

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from typer.testing import CliRunner

from bestseller_cli.alerts.channels import webhook_channel
from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.models import Outgoing
from bestseller_cli.store import asin_store, outbox_store
from fakes.keepa_server import FakeKeepa
from tests.conftest import FULL_PASS

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, fixed").decode()
GADGETS, KITCHEN = 289913, 1055398
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
# Keepa is faked with pytest-httpx; the receiver is real HTTP on the loopback.
real_loopback = pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")


@dataclass
class Receiver:
    """Keeps each request whose signature the reference library accepts; `drop` requests
    are taken, then the connection is closed without an answer."""

    url: str = ""
    seen: list[tuple[str, dict]] = field(default_factory=list)
    forged: int = 0
    drop: int = 0

    def ids(self) -> list[str]:
        return [webhook_id for webhook_id, _ in self.seen]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    verifier = Webhook(SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                payload = verifier.verify(body, dict(self.headers))
            except Exception:
                state.forged += 1
                self.send_response(401)
                self.end_headers()
                return
            state.seen.append((self.headers["webhook-id"], payload))
            if state.drop:
                state.drop -= 1
                self.close_connection = True
                self.connection.close()  # taken, never answered
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-path"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def webhook_rule(receiver: Receiver) -> None:
    result = CliRunner().invoke(app, ["clients", "add", "acme"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["clients", "rule", "acme", "--webhook", receiver.url], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "secret-path" not in result.output


def two_gains(keepa: FakeKeepa, conn) -> None:
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client="acme")
    conn.commit()
    keepa.set_ranks(A, {GADGETS: 2})
    keepa.set_ranks(B, {KITCHEN: 3})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(A, {GADGETS: 1})
    keepa.set_ranks(B, {KITCHEN: 1})


@real_loopback
def test_every_alert_arrives_signed_once_per_webhook_id(
    keepa: FakeKeepa, receiver: Receiver, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    webhook_rule(receiver)
    two_gains(keepa, conn)
    receiver.drop = 1  # the first request is taken and its answer lost: retried, same id
    summary = run_check(load_settings(), options=FULL_PASS)
    rows = conn.execute("SELECT id, status, channel FROM notification_log ORDER BY id").fetchall()
    assert [status for _, status, _ in rows] == ["sent", "sent"]
    assert all(channel.startswith("webhook:") for _, _, channel in rows)
    assert receiver.forged == 0
    assert sorted(set(receiver.ids())) == sorted(f"alert_{row_id}" for row_id, _, _ in rows)
    assert len(receiver.ids()) == 3  # one twice: at least once, deduplicated by its id
    bodies = {payload["asin"]: payload for _, payload in receiver.seen}
    assert bodies[A]["schema"] == "bestseller.alert.v1"
    assert (bodies[A]["kind"], bodies[A]["ranks"]["after"]) == ("gained", 1)
    assert bodies[A]["link"] == f"https://www.amazon.com/dp/{A}"
    assert summary.alerts_sent == 2


@real_loopback
def test_a_crash_between_send_and_record_resends_under_the_same_id(
    keepa: FakeKeepa, receiver: Receiver, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MAX_RETRIES", "0")
    webhook_rule(receiver)
    two_gains(keepa, conn)
    receiver.drop = 10  # every request of this pass is taken but never answered
    run_check(load_settings(), options=FULL_PASS)
    # The crash window: claim, send, die before recording.
    receiver.drop = 0
    settings = load_settings()
    [item, *_] = outbox_store.due(conn, now=datetime.now(UTC)) or [None]
    if item is not None:
        outbox_store.claim(conn, [item.id], token="a dead run")
        channel = webhook_channel(conn, settings)
        message = Outgoing(outbox_ids=(item.id,), changes=(item.change,))
        channel.post(channel=item.channel, message=message)
    run_check(settings, options=FULL_PASS)
    rows = conn.execute("SELECT id, status FROM notification_log ORDER BY id").fetchall()
    assert [status for _, status in rows] == ["sent", "sent"]
    assert receiver.forged == 0
    assert set(receiver.ids()) == {f"alert_{row_id}" for row_id, _ in rows}
    assert len(receiver.ids()) > len(rows)  # sent again after the crash, never a new id
    assert all(json.dumps(payload) for _, payload in receiver.seen)


def test_a_webhook_must_be_https_except_to_this_machine(env) -> None:
    CliRunner().invoke(app, ["clients", "add", "acme"])
    refused = CliRunner().invoke(
        app, ["clients", "rule", "acme", "--webhook", "http://hooks.example.com/x"]
    )
    assert refused.exit_code == 2
    assert "must be an https:// URL" in refused.output
