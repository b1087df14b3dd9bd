"""Alerts reach Slack exactly once: through retries, outages, bad channels and crashes."""

from datetime import UTC, datetime

import psycopg

from bestseller_cli import outbox_store, store
from bestseller_cli.config import load_settings
from bestseller_cli.monitor import run_check
from bestseller_cli.slack import SlackSender, alert_message
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.conftest import SLACK_CHANNEL

GADGETS = 289913
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
CHANNEL = SLACK_CHANNEL


def gain_for_a(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    """A baseline pass at rank 2, then the world moves A to #1 in Gadgets."""
    store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {GADGETS: 2})
    run_check(load_settings())
    keepa.set_ranks(A, {GADGETS: 1})


def record_while_slack_is_down(keepa: FakeKeepa, slack: FakeSlack, conn) -> int:
    """A gain recorded by a pass whose every post failed; returns its outbox row id."""
    gain_for_a(keepa, conn)
    slack.fail_http("chat.postMessage", 503, times=None)
    run_check(load_settings())
    slack._scripts.clear()
    [(row_id,)] = conn.execute("SELECT id FROM notification_log").fetchall()
    return row_id


def outbox_rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT status, slack_channel, slack_ts IS NOT NULL, error FROM notification_log"
        " ORDER BY id"
    ).fetchall()


def test_a_change_is_posted_once_and_marked_sent_with_its_ts(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    summary = run_check(load_settings())
    [message] = slack.messages(CHANNEL)
    assert A in message.text and "Kitchen Utensils &amp; Gadgets" in message.text
    [(row_id,)] = conn.execute("SELECT id FROM notification_log").fetchall()
    assert message.outbox_ids == [row_id]
    assert outbox_rows(conn) == [("sent", CHANNEL, True, None)]
    assert (summary.alerts_sent, summary.exit_code) == (1, 0)


def test_a_message_slack_took_before_the_process_died_is_not_sent_again(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    settings = load_settings()
    # Record the change without delivering it: Slack is down for the whole delivery step.
    slack.fail_http("chat.postMessage", 503, times=None)
    run_check(settings)
    slack._scripts.clear()
    # The crash window itself: claim, post, and die before marking it sent.
    [item] = outbox_store.due(conn, now=datetime.now(UTC))
    outbox_store.claim(conn, [item.id])
    sender = SlackSender.from_settings(settings)
    sender.post(channel=CHANNEL, message=alert_message(item.change), outbox_ids=[item.id])
    # ...the process dies here. The next run must find the message, not post it again.
    recovered = run_check(settings)
    losses = [m for m in slack.messages(CHANNEL) if item.id in m.outbox_ids]
    assert len(losses) == 1
    assert recovered.alerts_recovered == 1 and recovered.alerts_sent == 0
    assert conn.execute(
        "SELECT status, slack_ts FROM notification_log WHERE id = %s", (item.id,)
    ).fetchone() == ("sent", losses[0].ts)


def test_a_claimed_message_slack_never_got_is_sent_on_the_next_run(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    row_id = record_while_slack_is_down(keepa, slack, conn)
    outbox_store.claim(conn, [row_id])  # claimed, then the process died before posting
    summary = run_check(load_settings())
    assert [m.outbox_ids for m in slack.messages(CHANNEL)] == [[row_id]]
    assert summary.alerts_sent == 1


def test_slack_down_beyond_retries_keeps_the_alert_pending_for_the_next_run(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.fail_http("chat.postMessage", 503, times=None)
    failed = run_check(load_settings())
    assert slack.messages() == []
    assert outbox_rows(conn)[0][0] == "pending"
    assert (failed.alerts_undelivered, failed.exit_code) == (1, 1)

    slack._scripts.clear()
    retried = run_check(load_settings())
    assert len(slack.messages(CHANNEL)) == 1
    assert (retried.alerts_sent, retried.exit_code) == (1, 0)
    run_check(load_settings())
    assert len(slack.messages(CHANNEL)) == 1


def test_a_rate_limited_post_is_sent_once_after_retry_after(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.rate_limit("chat.postMessage", retry_after=1)
    summary = run_check(load_settings())
    assert len(slack.messages(CHANNEL)) == 1
    assert summary.alerts_sent == 1


def test_an_unknown_channel_fails_that_alert_for_good_without_a_retry_storm(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.fail_with("chat.postMessage", "channel_not_found")
    summary = run_check(load_settings())
    assert len(slack.calls("chat.postMessage")) == 1
    [(status, _, _, error)] = outbox_rows(conn)
    assert status == "failed" and "channel_not_found" in error
    assert (summary.alerts_failed, summary.exit_code) == (1, 1)
    run_check(load_settings())
    assert len(slack.calls("chat.postMessage")) == 1


def test_without_history_scope_an_interrupted_alert_is_resent_and_the_risk_recorded(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    row_id = record_while_slack_is_down(keepa, slack, conn)
    outbox_store.claim(conn, [row_id])
    slack.fail_with("conversations.history", "missing_scope", needed="channels:history")
    summary = run_check(load_settings())
    assert summary.alerts_sent == 1
    [(message,)] = conn.execute("SELECT message FROM error_log WHERE kind = 'reconcile'").fetchall()
    assert "duplicate is possible" in message
