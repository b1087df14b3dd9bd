"""Slack: what an alert looks like, and delivery through the real slack-sdk to a fake Slack."""

import logging
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient

from bestseller_cli.config import Settings
from bestseller_cli.errors import ConfigError, SlackError
from bestseller_cli.models import Change
from bestseller_cli.slack.client import SlackDeliveryUnknown, SlackSender
from bestseller_cli.slack.messages import (
    MAX_BLOCKS,
    MAX_TEXT,
    SlackMessage,
    alert_message,
    digest_message,
)
from fakes.slack_server import FakeSlack

TOKEN = "xoxb-111-222-SECRETSLACKTOKENFORTESTS"
CHANNEL = "C0ALERTS"
DETECTED = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def change(kind: str = "gained", **overrides: object) -> Change:
    values: dict[str, object] = {
        "asin": "B0C1234567",
        "marketplace": "com",
        "category_id": 7,
        "category_name": "Kitchen Tongs",
        "kind": kind,
        "rank_before": 4 if kind == "gained" else 1,
        "rank_after": 1 if kind == "gained" else 3,
        "main_rank": 1234,
        "title": "Steel Kitchen Tongs, 12 inch",
        "detected_at": DETECTED,
    }
    return Change(**{**values, **overrides})


def sender_for(server: FakeSlack, *, max_retries: int = 3, token: str = TOKEN) -> SlackSender:
    return SlackSender(
        token=token, api_url=server.base_url, max_retries=max_retries, retry_delay_seconds=0
    )


def all_texts(message: SlackMessage) -> list[str]:
    """Every text Slack would lay out: block texts, fields and context elements."""
    texts = []
    for block in message.blocks:
        texts.append(block.get("text", {}).get("text", ""))
        texts += [field["text"] for field in block.get("fields", [])]
        texts += [element["text"] for element in block.get("elements", [])]
    return [text for text in texts if text]


# -- messages -------------------------------------------------------------------------------


def test_gained_and_lost_alerts_look_different_at_a_glance() -> None:
    gained, lost = alert_message(change("gained")), alert_message(change("lost"))
    assert gained.blocks[0]["text"]["text"] == "🏆 #1 Best Seller gained"
    assert lost.blocks[0]["text"]["text"] == "📉 #1 Best Seller lost"
    assert gained.text.startswith("🏆 #1 Best Seller gained: Steel Kitchen Tongs")
    assert "Kitchen Tongs #4 → #1" in gained.text
    assert "Kitchen Tongs #1 → #3" in lost.text


def test_alert_names_asin_marketplace_category_main_rank_link_and_time() -> None:
    body = "\n".join(all_texts(alert_message(change(marketplace="de"))))
    assert "<https://www.amazon.de/dp/B0C1234567|Steel Kitchen Tongs, 12 inch>" in body
    assert "B0C1234567" in body and "amazon.de" in body
    assert "*Category*\nKitchen Tongs" in body
    assert "#4 → #1" in body
    assert "*Main Best Sellers Rank*\n#1,234" in body
    assert f"<!date^{int(DETECTED.timestamp())}^" in body and "2026-11-01 12:30 UTC" in body


@pytest.mark.parametrize(
    ("kind", "before", "after", "shown"),
    [
        ("gained", 4, 1, "#4 → #1"),
        ("lost", 1, 3, "#1 → #3"),
        ("lost", 1, None, "#1 → no longer ranked"),
        ("gained", None, 1, "new in category → #1"),
    ],
)
def test_rank_in_category_reads_before_to_after(
    kind: str, before: int | None, after: int | None, shown: str
) -> None:
    message = alert_message(change(kind, rank_before=before, rank_after=after))
    assert f"*Rank in category*\n{shown}" in all_texts(message)


def test_unknown_main_rank_and_category_name_are_left_out_or_named_by_id() -> None:
    body = "\n".join(all_texts(alert_message(change(main_rank=None, category_name=None))))
    assert "Main Best Sellers Rank" not in body
    assert "*Category*\ncategory 7" in body


def test_long_title_is_cut_at_a_word_with_an_ellipsis() -> None:
    message = alert_message(change(title="Tongs " + "extra-long-words " * 40))
    title_block = message.blocks[1]["text"]["text"]
    label = title_block.split("|", 1)[1].removesuffix(">*")
    assert label.endswith("…") and len(label) <= 150
    assert "extra-long-words…" in label


def test_extra_lines_become_small_print_escaped() -> None:
    message = alert_message(change(), extra_lines=["Now #1: <Rival> & Co", "Trend: 9 → 4 → 1"])
    assert message.blocks[-1] == {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "Now #1: &lt;Rival&gt; &amp; Co\nTrend: 9 → 4 → 1"}
        ],
    }


def test_many_long_extra_lines_are_cut_at_a_line_within_the_limit() -> None:
    message = alert_message(change(), extra_lines=[f"line {i} " + "<&>" * 300 for i in range(20)])
    small_print = message.blocks[-1]["elements"][0]["text"]
    assert len(small_print) <= MAX_TEXT
    assert small_print.endswith("\n…") and small_print.startswith("line 0 &lt;&amp;&gt;")
    assert all(line.endswith("…") for line in small_print.split("\n"))


def test_digest_of_200_changes_stays_within_slack_limits() -> None:
    changes = [
        change("gained" if i % 3 else "lost", asin=f"B0{i:08d}", title="T&<>" * 200)
        for i in range(200)
    ]
    message = digest_message(changes, title="Daily digest " + "x" * 300)
    assert len(message.blocks) <= MAX_BLOCKS
    assert all(len(text) <= MAX_TEXT for text in all_texts(message))
    assert len(message.blocks[0]["text"]["text"]) <= 150
    shown = sum(1 for block in message.blocks if "B0000" in block.get("text", {}).get("text", ""))
    assert message.blocks[-1]["elements"][0]["text"] == f"…and {200 - shown} more"
    assert "133 gained · 📉 67 lost" in message.text


def test_small_digest_lists_every_change_with_link_and_rank() -> None:
    message = digest_message(
        [change("gained"), change("lost", marketplace="co.uk", rank_after=None)], title="Digest"
    )
    lines = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert len(lines) == 2
    assert lines[0].startswith("🏆 *<https://www.amazon.com/dp/B0C1234567|Steel Kitchen")
    assert "#1 → no longer ranked" in lines[1] and "amazon.co.uk" in lines[1]
    assert not any("more" in text for text in all_texts(message))


# -- delivery -------------------------------------------------------------------------------


def test_alert_arrives_with_blocks_fallback_text_and_outbox_ids_in_metadata(
    slack_server: FakeSlack,
) -> None:
    message = alert_message(change(marketplace="co.uk"))
    ts = sender_for(slack_server).post(channel=CHANNEL, message=message, outbox_ids=[41, 42])

    [posted] = slack_server.messages(CHANNEL)
    assert posted.ts == ts
    assert posted.blocks == message.blocks and posted.text == message.text
    assert posted.metadata == {"event_type": "bestseller_alert", "event_payload": {"ids": "41,42"}}
    assert "https://www.amazon.co.uk/dp/B0C1234567" in posted.blocks[1]["text"]["text"]
    [request] = slack_server.calls("chat.postMessage")
    assert request.params["unfurl_links"] is False
    assert request.token == TOKEN


def test_title_markup_arrives_escaped(slack_server: FakeSlack) -> None:
    message = alert_message(change(title="<script>& <!channel>"))
    sender_for(slack_server).post(channel=CHANNEL, message=message, outbox_ids=[1])
    [posted] = slack_server.messages()
    assert "|&lt;script&gt;&amp; &lt;!channel&gt;>" in posted.blocks[1]["text"]["text"]
    assert "<script>" not in posted.text and "<!channel>" not in posted.text


def test_rate_limited_post_waits_for_retry_after_then_posts_once(slack_server: FakeSlack) -> None:
    slack_server.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    sender_for(slack_server).post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[1])
    assert time.monotonic() - started >= 1
    assert len(slack_server.calls("chat.postMessage")) == 2
    assert len(slack_server.messages()) == 1


def test_server_errors_are_retried_until_slack_recovers(slack_server: FakeSlack) -> None:
    slack_server.fail_http("chat.postMessage", 503, times=2)
    sender_for(slack_server).post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[1])
    assert len(slack_server.calls("chat.postMessage")) == 3
    assert len(slack_server.messages()) == 1


def test_server_errors_beyond_retries_are_transient_and_post_nothing(
    slack_server: FakeSlack,
) -> None:
    slack_server.fail_http("chat.postMessage", 503, times=None)
    with pytest.raises(SlackError) as raised:
        sender_for(slack_server, max_retries=2).post(
            channel=CHANNEL, message=alert_message(change()), outbox_ids=[1]
        )
    assert raised.value.permanent is False
    assert "HTTP 503" in str(raised.value)
    assert len(slack_server.calls("chat.postMessage")) == 3
    assert slack_server.messages() == []


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_permanent_errors_fail_after_one_request(slack_server: FakeSlack, code: str) -> None:
    slack_server.fail_with("chat.postMessage", code)
    with pytest.raises(SlackError, match=code) as raised:
        sender_for(slack_server).post(
            channel=CHANNEL, message=alert_message(change()), outbox_ids=[1]
        )
    assert raised.value.permanent is True
    assert len(slack_server.requests) == 1


def test_unreachable_slack_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = SlackSender(
        token=TOKEN, api_url=f"http://127.0.0.1:{port}/api/", max_retries=1, retry_delay_seconds=0
    )
    with pytest.raises(SlackError, match="could not reach Slack") as raised:
        sender.check_auth()
    assert raised.value.permanent is False


def test_delivered_finds_a_message_recorded_then_dropped_across_pages(
    slack_server: FakeSlack,
) -> None:
    slack_server.history_page_size = 2
    slack_server.add_message(CHANNEL, "before", metadata=None)
    sender = sender_for(slack_server)
    sender.post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[7])
    slack_server.drop_after_recording("chat.postMessage")
    client = WebClient(token=TOKEN, base_url=slack_server.base_url, retry_handlers=[])
    with pytest.raises(ConnectionError):  # the crash window: the client never learns the ts
        client.chat_postMessage(
            channel=CHANNEL,
            text="x",
            metadata={"event_type": "bestseller_alert", "event_payload": {"ids": "41,42"}},
        )
    for text in ("other bot", "someone", "later"):
        slack_server.add_message(
            CHANNEL, text, metadata={"event_type": "deploy", "event_payload": {"ids": "99"}}
        )
    slack_server.add_message("C0OTHER", "elsewhere", metadata=None)

    found = sender.delivered(channel=CHANNEL, oldest=LONG_AGO)

    dropped = slack_server.messages(CHANNEL)[2]
    assert found == {7: slack_server.messages(CHANNEL)[1].ts, 41: dropped.ts, 42: dropped.ts}
    assert len(slack_server.calls("conversations.history")) == 3
    assert all(
        call.params["include_all_metadata"] in {"1", "true"}
        for call in slack_server.calls("conversations.history")
    )


def test_delivered_honours_oldest(slack_server: FakeSlack) -> None:
    sender = sender_for(slack_server)
    sender.post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[1])
    assert sender.delivered(channel=CHANNEL, oldest=datetime.now(UTC) + timedelta(hours=1)) == {}


def test_post_whose_answer_was_lost_is_found_in_history_not_posted_twice(
    slack_server: FakeSlack,
) -> None:
    slack_server.drop_after_recording("chat.postMessage")
    ts = sender_for(slack_server).post(
        channel=CHANNEL, message=alert_message(change()), outbox_ids=[5, 6]
    )
    [posted] = slack_server.messages()
    assert posted.ts == ts and posted.outbox_ids == [5, 6]
    assert len(slack_server.calls("chat.postMessage")) == 1


def test_lost_answer_without_history_scope_is_reported_as_delivery_unknown(
    slack_server: FakeSlack,
) -> None:
    slack_server.drop_after_recording("chat.postMessage")
    slack_server.fail_with("conversations.history", "missing_scope", needed="channels:history")
    with pytest.raises(SlackDeliveryUnknown, match="channels:history") as raised:
        sender_for(slack_server).post(
            channel=CHANNEL, message=alert_message(change()), outbox_ids=[5]
        )
    assert raised.value.permanent is False
    assert len(slack_server.calls("chat.postMessage")) == 1


def test_missing_history_scope_is_permanent_and_names_the_scope(slack_server: FakeSlack) -> None:
    slack_server.fail_with("conversations.history", "missing_scope", needed="channels:history")
    with pytest.raises(SlackError, match=r"missing_scope \(needs the channels:history scope\)"):
        sender_for(slack_server).delivered(channel=CHANNEL, oldest=LONG_AGO)
    assert len(slack_server.calls("conversations.history")) == 1


def test_update_replaces_text_and_blocks_but_keeps_metadata(slack_server: FakeSlack) -> None:
    sender = sender_for(slack_server)
    ts = sender.post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[3])
    sender.update(channel=CHANNEL, ts=ts, message=alert_message(change("lost")))
    [posted] = slack_server.messages()
    assert posted.edits == 1 and posted.text.startswith("📉")
    assert posted.outbox_ids == [3]


def test_doctor_checks_auth_and_channel_membership(slack_server: FakeSlack) -> None:
    slack_server.not_member_of.add("C0NOTIN")
    sender = sender_for(slack_server)
    assert sender.check_auth() == "Fake Team / bestseller"
    assert sender.is_member(CHANNEL) is True
    assert sender.is_member("C0NOTIN") is False


def test_sender_from_settings_uses_url_retries_and_token(slack_server: FakeSlack) -> None:
    settings = Settings(
        slack_bot_token=TOKEN, slack_api_url=slack_server.base_url, retry_delay_seconds=0
    )
    slack_server.expected_token = TOKEN
    assert SlackSender.from_settings(settings).check_auth() == "Fake Team / bestseller"
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        SlackSender.from_settings(Settings(slack_bot_token=None))


def test_token_never_appears_in_errors_or_logs(
    slack_server: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = sender_for(slack_server, max_retries=1)
    slack_server.fail_with("auth.test", "invalid_auth", times=1)
    slack_server.fail_http("chat.postMessage", 503, times=2)
    slack_server.drop_after_recording("chat.update", times=2)
    errors = []
    for call in (
        sender.check_auth,
        lambda: sender.post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[1]),
        lambda: sender.update(channel=CHANNEL, ts="1.0", message=alert_message(change())),
    ):
        with pytest.raises(SlackError) as raised:
            call()
        errors.append(raised.value)
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert all(TOKEN not in str(error) and error.__cause__ is None for error in errors)
    assert TOKEN not in logged
    assert "SECRETSLACKTOKEN" not in logged


def test_fake_slack_serves_a_child_process(slack_server: FakeSlack) -> None:
    script = (
        "import sys; from slack_sdk import WebClient;"
        "WebClient(token='xoxb-1', base_url=sys.argv[1]).chat_postMessage(channel='C1', text='hi')"
    )
    subprocess.run([sys.executable, "-c", script, slack_server.base_url], check=True, timeout=30)
    assert [message.text for message in slack_server.messages("C1")] == ["hi"]


def test_only_this_tokens_bot_is_trusted_to_have_posted_an_alert(slack_server: FakeSlack) -> None:
    sender = sender_for(slack_server)
    sender.post(channel=CHANNEL, message=alert_message(change()), outbox_ids=[1])
    alert = {"event_type": "bestseller_alert", "event_payload": {"ids": "1,2", "mark": "m"}}
    slack_server.add_message(CHANNEL, "another app", metadata=alert, bot_id="B0OTHERAPP")
    slack_server.add_message(CHANNEL, "a person", metadata=alert, user="U0PERSON")

    assert sender.delivered(channel=CHANNEL, oldest=LONG_AGO) == {
        1: slack_server.messages(CHANNEL)[0].ts
    }
    assert sender.marked(channel=CHANNEL, mark="m", oldest=LONG_AGO) is None
    assert len(slack_server.calls("auth.test")) == 1
