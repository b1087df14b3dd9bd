"""SLACK_CHARTS: a chart under each badge alert, in the alert's thread, after the alert; a
chart that fails changes nothing about the alert and is never tried again."""

import io

import psycopg
import pytest
from PIL import Image

from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.alerts.test_delivery import CHANNEL, gain_for_a, outbox_rows
from tests.conftest import FULL_PASS


@pytest.fixture
def charts_on(monkeypatch: pytest.MonkeyPatch, slack: FakeSlack) -> FakeSlack:
    monkeypatch.setenv("SLACK_CHARTS", "true")
    return slack


def chart_errors(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT message FROM error_log WHERE kind = 'chart'").fetchall()
    return [message for (message,) in rows]


def test_a_badge_alert_gets_a_chart_in_its_thread_after_it(
    keepa: FakeKeepa, charts_on: FakeSlack, conn: psycopg.Connection
) -> None:
    gain_for_a(keepa, conn)
    summary = run_check(load_settings(), options=FULL_PASS)
    [message] = charts_on.messages(CHANNEL)
    [shared] = charts_on.files(CHANNEL)
    assert shared.thread_ts == message.ts
    assert shared.title.startswith("B0AAAAAAAA in Kitchen Utensils & Gadgets, last 7 days")
    assert "gained #1 in Kitchen Utensils & Gadgets" in shared.alt_txt
    assert Image.open(io.BytesIO(shared.data)).size == (1080, 450)
    methods = [request.method for request in charts_on.requests]
    assert methods.index("files.getUploadURLExternal") > methods.index("chat.postMessage")
    assert (summary.alerts_sent, summary.charts_posted, summary.exit_code) == (1, 1, 0)


def test_without_the_files_scope_the_alert_goes_out_once_and_the_chart_is_logged(
    keepa: FakeKeepa, charts_on: FakeSlack, conn: psycopg.Connection
) -> None:
    charts_on.scopes.remove("files:write")
    gain_for_a(keepa, conn)
    summary = run_check(load_settings(), options=FULL_PASS)
    assert (summary.alerts_sent, summary.charts_posted, summary.exit_code) == (1, 0, 0)
    assert outbox_rows(conn) == [("sent", CHANNEL, True, None)]
    [error] = chart_errors(conn)
    assert "missing_scope" in error and "the alert itself was delivered" in error
    # The next pass neither repeats the alert nor its chart.
    run_check(load_settings(), options=FULL_PASS)
    assert len(charts_on.messages(CHANNEL)) == 1 and charts_on.files() == []
    assert len(charts_on.calls("files.getUploadURLExternal")) == 1


def test_an_upload_that_fails_is_not_tried_again(
    keepa: FakeKeepa, charts_on: FakeSlack, conn: psycopg.Connection
) -> None:
    charts_on.fail_uploads = True
    gain_for_a(keepa, conn)
    summary = run_check(load_settings(), options=FULL_PASS)
    assert summary.alerts_sent == 1 and charts_on.files() == []
    assert len(charts_on.calls("files.getUploadURLExternal")) == 1  # at most once
    assert chart_errors(conn) != []


def test_charts_are_off_unless_asked_for(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    gain_for_a(keepa, conn)
    run_check(load_settings(), options=FULL_PASS)
    assert len(slack.messages(CHANNEL)) == 1
    assert [r for r in slack.requests if r.method.startswith("files.")] == []
