"""A webhook receiver on 127.0.0.1 (the loopback exception) verifies every request with
the Standard Webhooks reference library, and sees every alert at least once under one
`webhook-id` per alert: through retries and across a crash between send and record."""

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from bestseller_cli.alerts.channels import webhook_channel
from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.models import Outgoing
from bestseller_cli.store import asin_store, outbox_store
from fakes.keepa_server import FakeKeepa
from fakes.webhook_receiver import SECRET_PATH, WEBHOOK_TEST_SECRET, WebhookReceiver
from tests.conftest import FULL_PASS

GADGETS, KITCHEN = 289913, 1055398
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
# Keepa is faked with pytest-httpx; the receiver is real HTTP on the loopback.
real_loopback = pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")


def webhook_rule(receiver: WebhookReceiver) -> None:
    result = CliRunner().invoke(app, ["clients", "add", "acme"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["clients", "rule", "acme", "--webhook", receiver.url], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert SECRET_PATH not in result.output


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
    keepa: FakeKeepa, webhook_receiver: WebhookReceiver, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_TEST_SECRET)
    webhook_rule(webhook_receiver)
    two_gains(keepa, conn)
    webhook_receiver.drop = 1  # the first request is taken and its answer lost: retried, same id
    summary = run_check(load_settings(), options=FULL_PASS)
    rows = conn.execute("SELECT id, status, channel FROM notification_log ORDER BY id").fetchall()
    assert [status for _, status, _ in rows] == ["sent", "sent"]
    assert all(channel.startswith("webhook:") for _, _, channel in rows)
    assert webhook_receiver.forged == 0
    assert sorted(set(webhook_receiver.ids())) == sorted(f"alert_{row_id}" for row_id, _, _ in rows)
    assert len(webhook_receiver.ids()) == 3  # one twice: at least once, deduplicated by its id
    bodies = {payload["asin"]: payload for payload in webhook_receiver.payloads()}
    assert bodies[A]["schema"] == "bestseller.alert.v1"
    assert (bodies[A]["kind"], bodies[A]["ranks"]["after"]) == ("gained", 1)
    assert bodies[A]["link"] == f"https://www.amazon.com/dp/{A}"
    assert summary.alerts_sent == 2


@real_loopback
def test_a_crash_between_send_and_record_resends_under_the_same_id(
    keepa: FakeKeepa, webhook_receiver: WebhookReceiver, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_TEST_SECRET)
    monkeypatch.setenv("MAX_RETRIES", "0")
    webhook_rule(webhook_receiver)
    two_gains(keepa, conn)
    webhook_receiver.drop = 10  # every request of this pass is taken but never answered
    run_check(load_settings(), options=FULL_PASS)
    # The crash window: claim, send, die before recording.
    webhook_receiver.drop = 0
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
    assert webhook_receiver.forged == 0
    assert set(webhook_receiver.ids()) == {f"alert_{row_id}" for row_id, _ in rows}
    assert len(webhook_receiver.ids()) > len(rows)  # sent again after the crash, never a new id
    assert all(json.dumps(payload) for payload in webhook_receiver.payloads())


def test_a_webhook_must_be_https_except_to_this_machine(env) -> None:
    CliRunner().invoke(app, ["clients", "add", "acme"])
    refused = CliRunner().invoke(
        app, ["clients", "rule", "acme", "--webhook", "http://hooks.example.com/x"]
    )
    assert refused.exit_code == 2
    assert "must be an https:// URL" in refused.output
