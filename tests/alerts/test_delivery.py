"""Alerts reach Slack exactly once: through retries, outages, bad channels and crashes."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.slack.messages import alert_message
from bestseller_cli.store import asin_store, outbox_store
from fakes import SLACK_TEST_TOKEN
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.conftest import FULL_PASS, SLACK_CHANNEL

GADGETS = 289913
A, B = "B0AAAAAAAA", "B0BBBBBBBB"
CHANNEL = SLACK_CHANNEL


def gain_for_a(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    """A baseline pass at rank 2, then the world moves A to #1 in Gadgets."""
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(A, {GADGETS: 1})


def record_while_slack_is_down(keepa: FakeKeepa, slack: FakeSlack, conn) -> int:
    """A gain recorded by a pass whose every post failed; returns its outbox row id."""
    gain_for_a(keepa, conn)
    slack.fail_http("chat.postMessage", 503, times=None)
    run_check(load_settings(), options=FULL_PASS)
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
    summary = run_check(load_settings(), options=FULL_PASS)
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
    run_check(settings, options=FULL_PASS)
    slack._scripts.clear()
    # The crash window itself: claim, post, and die before marking it sent.
    [item] = outbox_store.due(conn, now=datetime.now(UTC))
    outbox_store.claim(conn, [item.id], token="a dead run")
    sender = SlackSender.from_settings(settings)
    sender.post(channel=CHANNEL, message=alert_message(item.change), outbox_ids=[item.id])
    # ...the process dies here. The next run must find the message, not post it again.
    recovered = run_check(settings, options=FULL_PASS)
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
    # Claimed, then the process died before posting.
    outbox_store.claim(conn, [row_id], token="a dead run")
    summary = run_check(load_settings(), options=FULL_PASS)
    assert [m.outbox_ids for m in slack.messages(CHANNEL)] == [[row_id]]
    assert summary.alerts_sent == 1


def test_slack_down_beyond_retries_keeps_the_alert_pending_for_the_next_run(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.fail_http("chat.postMessage", 503, times=None)
    failed = run_check(load_settings(), options=FULL_PASS)
    assert slack.messages() == []
    assert outbox_rows(conn)[0][0] == "pending"
    assert (failed.alerts_undelivered, failed.exit_code) == (1, 1)

    slack._scripts.clear()
    retried = run_check(load_settings(), options=FULL_PASS)
    assert len(slack.messages(CHANNEL)) == 1
    assert (retried.alerts_sent, retried.exit_code) == (1, 0)
    run_check(load_settings(), options=FULL_PASS)
    assert len(slack.messages(CHANNEL)) == 1


def test_a_rate_limited_post_is_sent_once_after_retry_after(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.rate_limit("chat.postMessage", retry_after=1)
    summary = run_check(load_settings(), options=FULL_PASS)
    assert len(slack.messages(CHANNEL)) == 1
    assert summary.alerts_sent == 1


def test_an_alert_slack_refuses_is_kept_and_sent_once_when_the_channel_works(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gain_for_a(keepa, conn)
    slack.fail_with("chat.postMessage", "not_in_channel", times=1)
    refused = run_check(load_settings(), options=FULL_PASS)
    assert len(slack.calls("chat.postMessage")) == 1
    [(status, _, _, error)] = outbox_rows(conn)
    assert status == "refused" and "not_in_channel" in error
    assert (refused.alerts_refused, refused.alerts_undelivered, refused.exit_code) == (1, 1, 1)
    assert "invite the bot" in refused.alerts_refused_because[0]

    # The bot is invited: the next run sends it, once.
    delivered = run_check(load_settings(), options=FULL_PASS)
    [message] = slack.messages(CHANNEL)
    assert outbox_rows(conn) == [("sent", CHANNEL, True, None)]
    assert (delivered.alerts_sent, delivered.exit_code) == (1, 0)
    run_check(load_settings(), options=FULL_PASS)
    assert slack.messages(CHANNEL) == [message]


def gains_recorded_with_a_revoked_token(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    """Two gains; Slack refuses the token (revoked) when the pass delivers them."""
    asin_store.add_tracked(conn, asins=[A, B], marketplace="com", client=None)
    keepa.set_ranks(A, {GADGETS: 2})
    keepa.set_ranks(B, {GADGETS: 3})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(A, {GADGETS: 1})
    keepa.set_ranks(B, {GADGETS + 1: 1})
    slack.expected_token = "xoxb-the-new-token"


def test_a_revoked_token_fails_the_run_with_the_reason_and_asks_slack_once(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    gains_recorded_with_a_revoked_token(keepa, slack, conn)
    result = CliRunner().invoke(app, ["check", "--all"])
    assert result.exit_code == 1
    assert "invalid_auth" in result.output and "SLACK_BOT_TOKEN" in result.output
    assert "2 alert(s) not delivered" in result.output
    assert len(slack.calls("chat.postMessage")) == 1  # no storm: the token is refused
    listed = CliRunner().invoke(app, ["alerts", "list", "--undelivered", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert sorted((row["asin"], row["status"]) for row in rows) == [
        (A, "refused"),
        (B, "pending"),
    ]
    assert all(SLACK_TEST_TOKEN not in str(row) for row in rows)


def test_alerts_refused_for_a_revoked_token_go_out_once_after_the_token_is_fixed(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    gains_recorded_with_a_revoked_token(keepa, slack, conn)
    assert run_check(load_settings(), options=FULL_PASS).exit_code == 1
    still_refused = CliRunner().invoke(app, ["alerts", "retry"])
    assert still_refused.exit_code == 1 and "invalid_auth" in still_refused.output

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-the-new-token")
    retried = CliRunner().invoke(app, ["alerts", "retry"])
    assert retried.exit_code == 0, retried.output
    assert "2 sent" in retried.output
    assert sorted(m.outbox_ids[0] for m in slack.messages(CHANNEL)) == [
        row_id for (row_id,) in conn.execute("SELECT id FROM notification_log ORDER BY id")
    ]
    after = run_check(load_settings(), options=FULL_PASS)
    assert (after.alerts_sent, after.alerts_undelivered, after.exit_code) == (0, 0, 0)
    assert len(slack.messages(CHANNEL)) == 2
    listed = CliRunner().invoke(app, ["alerts", "list", "--undelivered"])
    assert "No undelivered alerts." in listed.output


def test_an_alert_undelivered_past_the_expiry_expires_with_its_reason_and_fails_that_run(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    monkeypatch.setenv("ALERT_EXPIRY_DAYS", "2")
    gain_for_a(keepa, conn)
    slack.fail_with("chat.postMessage", "channel_not_found", times=None)
    run_check(load_settings(), options=FULL_PASS)
    slack._scripts.clear()
    later = datetime.now(UTC) + timedelta(days=2, hours=1)
    expired = run_check(load_settings(), options=FULL_PASS, clock=lambda: later)
    assert slack.messages() == []
    [(status, reason, error)] = conn.execute(
        "SELECT status, reason, error FROM notification_log"
    ).fetchall()
    assert status == "expired" and "2 days (ALERT_EXPIRY_DAYS)" in reason
    assert "channel_not_found" in error  # the last error stays with it
    assert (expired.alerts_expired, expired.exit_code) == (1, 1)
    assert conn.execute("SELECT count(*) FROM error_log WHERE kind = 'expired'").fetchone() == (1,)
    calm = run_check(load_settings(), options=FULL_PASS, clock=lambda: later)
    assert (calm.alerts_expired, calm.exit_code, slack.messages()) == (0, 0, [])


def test_a_claim_takes_only_rows_still_waiting(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    row_id = record_while_slack_is_down(keepa, slack, conn)
    assert outbox_store.claim(conn, [row_id], token="first") == [row_id]
    assert outbox_store.claim(conn, [row_id], token="second") == []


def test_a_row_another_delivery_claimed_first_is_not_posted_again(
    keepa: FakeKeepa, slack: FakeSlack, conn, monkeypatch
) -> None:
    """Two deliveries at once (no run lock, as behind a transaction pooler): both read the
    same due rows, and only the one whose claim took a row posts it."""
    row_id = record_while_slack_is_down(keepa, slack, conn)
    attempts = "SELECT status, attempts FROM notification_log WHERE id = %s"
    [(_, tried)] = conn.execute(attempts, (row_id,)).fetchall()
    read_due = outbox_store.due

    def due_then_claimed_elsewhere(*args, **kwargs):
        items = read_due(*args, **kwargs)
        # The other delivery, first.
        outbox_store.claim(conn, [item.id for item in items], token="other")
        return items

    monkeypatch.setattr(outbox_store, "due", due_then_claimed_elsewhere)
    run_check(load_settings(), options=FULL_PASS)
    assert slack.messages() == []
    # Claimed once more, by the other delivery only: this one's claim took nothing.
    [(_, tried_now)] = conn.execute(attempts, (row_id,)).fetchall()
    assert tried_now == tried + 1


def test_without_history_scope_an_interrupted_alert_is_resent_and_the_risk_recorded(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    row_id = record_while_slack_is_down(keepa, slack, conn)
    outbox_store.claim(conn, [row_id], token="a dead run")
    slack.fail_with("conversations.history", "missing_scope", needed="channels:history")
    summary = run_check(load_settings(), options=FULL_PASS)
    assert summary.alerts_sent == 1
    [(message,)] = conn.execute("SELECT message FROM error_log WHERE kind = 'reconcile'").fetchall()
    assert "duplicate is possible" in message


def test_a_delivery_that_lost_its_claim_changes_nothing_after_the_fact(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    """Claim fencing (River #1302, pg-boss): a delivery hung after claiming a row while the
    next run settled it; its late writes compare its claim token and change nothing."""
    row_id = record_while_slack_is_down(keepa, slack, conn)
    assert outbox_store.claim(conn, [row_id], token="hung") == [row_id]
    assert run_check(load_settings()).alerts_sent == 1  # history: not in Slack; sent anew
    [posted] = [m for m in slack.messages(CHANNEL) if row_id in m.outbox_ids]

    # The hung delivery wakes up: Slack failed for it, so it would put the row back.
    outbox_store.release(conn, [row_id], error="Slack failed", token="hung")
    outbox_store.mark_refused(conn, [row_id], error="channel_not_found", token="hung")
    assert outbox_store.mark_sent(conn, [row_id], channel=CHANNEL, ts="1.000", token="hung") == []
    row = conn.execute(
        "SELECT status, slack_ts, error FROM notification_log WHERE id = %s", (row_id,)
    ).fetchone()
    assert row == ("sent", posted.ts, None)
    run_check(load_settings())
    assert [m for m in slack.messages(CHANNEL) if row_id in m.outbox_ids] == [posted]


def test_another_apps_message_carrying_an_alerts_metadata_does_not_mark_it_delivered(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    row_id = record_while_slack_is_down(keepa, slack, conn)
    outbox_store.claim(conn, [row_id], token="a dead run")  # its fate is read from history
    forged = slack.add_message(
        CHANNEL,
        "not ours",
        metadata={"event_type": "bestseller_alert", "event_payload": {"ids": str(row_id)}},
        bot_id="B0OTHERAPP",
        user="U0OTHERAPP",
    )

    summary = run_check(load_settings(), options=FULL_PASS)

    [ours] = [m for m in slack.messages(CHANNEL) if m.bot_id == slack.bot_id]
    assert ours.outbox_ids == [row_id] and ours.ts != forged.ts
    assert (summary.alerts_sent, summary.alerts_recovered) == (1, 0)
    assert conn.execute(
        "SELECT status, slack_ts FROM notification_log WHERE id = %s", (row_id,)
    ).fetchone() == ("sent", ours.ts)
    assert len(slack.calls("auth.test")) == 1  # who "we" are: asked once in the pass
