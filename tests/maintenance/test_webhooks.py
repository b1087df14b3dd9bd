"""`doctor` sends each rule's webhook a signed `ping` and shows its answer, one row per
webhook, the URL as scheme://host/… only: green on 2xx (the receiver verified the
signature), red on a refusal, red without WEBHOOK_SECRET to sign with."""

import json
import re

import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from fakes.webhook_receiver import SECRET_PATH, WEBHOOK_TEST_SECRET, WebhookReceiver

runner = CliRunner()
# Keepa is faked with pytest-httpx; the receiver is real HTTP on the loopback.
real_loopback = pytest.mark.httpx_mock(should_mock=lambda request: request.url.host != "127.0.0.1")


def webhook_rule(url: str) -> None:
    for arguments in (["clients", "add", "acme"], ["clients", "rule", "acme", "--webhook", url]):
        result = runner.invoke(app, arguments, catch_exceptions=False)
        assert result.exit_code == 0, result.output


def webhook_rows(output: str) -> list[dict]:
    """doctor's rows on webhooks, from its JSON lines (LOG_FORMAT=json)."""
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [row for row in rows if row.get("part", "").startswith("webhook")]


def shows_no_secret(output: str) -> bool:
    """Neither the URL's path nor the signing secret, even across a wrapped table cell."""
    joined = "".join(re.sub(r"[│┃┏┓┗┛━┡┩└┘─┳┻╇┼┬┴]", "", output).split())
    secrets = (SECRET_PATH, SECRET_PATH.replace("/", ""), WEBHOOK_TEST_SECRET)
    return not any(secret in text for secret in secrets for text in (output, joined))


@pytest.fixture
def doctoring(
    keepa: FakeKeepa, slack: FakeSlack, webhook_receiver: WebhookReceiver, monkeypatch
) -> WebhookReceiver:
    """doctor with Keepa and Slack faked, a rule whose webhook is `webhook_receiver`."""
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_TEST_SECRET)
    webhook_rule(webhook_receiver.url)
    monkeypatch.setenv("LOG_FORMAT", "json")
    return webhook_receiver


@real_loopback
def test_a_webhook_that_takes_the_signed_ping_is_a_green_row(doctoring: WebhookReceiver) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    [row] = webhook_rows(result.output)
    assert row["status"] == "ok"
    assert row["message"].startswith("http://127.0.0.1:")
    assert "answered the signed ping: HTTP 204" in row["message"]
    assert doctoring.forged == 0
    [payload] = doctoring.payloads()
    assert (payload["schema"], payload["type"]) == ("bestseller.alert.v1", "ping")
    assert doctoring.ids()[0].startswith("ping_")
    assert shows_no_secret(result.output)


@real_loopback
def test_a_webhook_that_refuses_the_ping_is_a_red_row(doctoring: WebhookReceiver) -> None:
    doctoring.status = 404
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    [row] = webhook_rows(result.output)
    assert row["status"] == "fail"
    assert "HTTP 404" in row["message"]
    assert len(doctoring.ids()) == 1  # a refusal is not asked again
    assert shows_no_secret(result.output)


@real_loopback
def test_without_webhook_secret_a_configured_webhook_is_a_red_row(
    doctoring: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    [row] = webhook_rows(result.output)
    assert row["status"] == "fail"
    assert "WEBHOOK_SECRET is unset" in row["message"]
    assert doctoring.ids() == []


@real_loopback
def test_the_table_shows_the_webhook_by_its_host_only(doctoring: WebhookReceiver, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "text")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "webhook, rule" in result.output and "127.0.0.1" in result.output
    assert shows_no_secret(result.output)


def test_no_row_without_webhooks(keepa: FakeKeepa, slack: FakeSlack, monkeypatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert webhook_rows(result.output) == []
