"""Alerts go out as each batch is written, not after the pass; a message posted before its
story was complete (a loss whose new holder a later batch finds) is updated in place, once,
even across a crash between the post and the update."""

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack, RecordedRequest, _Scripted
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS, SLACK_CHANNEL

GADGETS = 289913
# Work is fetched in key order: with BATCH_SIZE=1 the loser is the first batch, the new
# holder the last, and the fillers the batches in between.
LOSER, HOLDER = "B0AAAAAAA1", "B0ZZZZZZZ1"
FILLERS = ["B0MMMMMMM1", "B0MMMMMMM2", "B0MMMMMMM3"]


@pytest.fixture
def one_asin_per_batch(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    monkeypatch.setenv("BATCH_SIZE", "1")


def track_and_take_a_baseline(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    asin_store.add_tracked(conn, asins=[LOSER, *FILLERS, HOLDER], marketplace="com", client=None)
    keepa.set_ranks(LOSER, {GADGETS: 1})
    keepa.set_ranks(HOLDER, {GADGETS: 2})
    for filler in FILLERS:
        keepa.set_ranks(filler, {GADGETS: 40})
    run_check(load_settings(), options=FULL_PASS)


def hand_the_badge_over(keepa: FakeKeepa) -> None:
    keepa.set_ranks(LOSER, {GADGETS: 3})
    keepa.set_ranks(HOLDER, {GADGETS: 1})


def posted_texts(slack: FakeSlack) -> list[str]:
    """What each chat.postMessage carried when it was posted (before any update)."""
    return [text_of(_as_message(call)) for call in slack.calls("chat.postMessage")]


def _as_message(call: RecordedRequest) -> Any:
    class Sent:
        text = call.params.get("text") or ""
        blocks = call.params.get("blocks") or []

    return Sent()


def test_a_loss_in_the_first_batch_is_posted_then_updated_with_the_holder_of_the_last(
    keepa: FakeKeepa, slack: FakeSlack, conn, one_asin_per_batch
) -> None:
    track_and_take_a_baseline(keepa, conn)
    hand_the_badge_over(keepa)
    summary = run_check(load_settings(), options=FULL_PASS)

    loss_posted, gain_posted = posted_texts(slack)
    assert LOSER in loss_posted and "Now #1: not known yet" in loss_posted
    assert HOLDER in gain_posted and f"Displaced: {LOSER}" in gain_posted
    [update] = slack.calls("chat.update")
    loss, gain = slack.messages(SLACK_CHANNEL)
    assert update.params["ts"] == loss.ts and loss.edits == 1 and gain.edits == 0
    assert f"Now #1: {HOLDER}" in text_of(loss) and "not known yet" not in text_of(loss)
    assert (summary.alerts_sent, summary.alerts_updated, summary.exit_code) == (2, 1, 0)
    states = conn.execute("SELECT status, story_update FROM notification_log ORDER BY id")
    assert states.fetchall() == [("sent", "updated"), ("sent", None)]


def test_a_gain_found_before_its_loss_is_updated_with_whom_it_displaced(
    keepa: FakeKeepa, slack: FakeSlack, conn, one_asin_per_batch
) -> None:
    track_and_take_a_baseline(keepa, conn)
    keepa.set_ranks(LOSER, {GADGETS: 2})  # the first batch gains, the last one loses
    keepa.set_ranks(HOLDER, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(LOSER, {GADGETS: 1})
    keepa.set_ranks(HOLDER, {GADGETS: 3})
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    slack.requests.clear()
    run_check(load_settings(), options=FULL_PASS)

    gain_posted, loss_posted = posted_texts(slack)
    assert "Displaced" not in gain_posted and f"Now #1: {LOSER}" in loss_posted
    [update] = slack.calls("chat.update")
    gain = next(m for m in slack.messages(SLACK_CHANNEL) if m.ts == update.params["ts"])
    assert LOSER in gain.text and f"Displaced: {HOLDER}" in text_of(gain)


class KillOnUpdate(FakeSlack):
    """Kills the pass process when it asks to update a message, before carrying it out."""

    victim: subprocess.Popen | None = None

    def handle(self, request: RecordedRequest) -> tuple[Any, dict[str, Any]]:
        if request.method == "chat.update" and self.victim is not None:
            self.victim.kill()
            self.victim.wait()
            self.victim = None
            with self._lock:
                self.requests.append(request)
            return _Scripted(drop=True), {}
        return super().handle(request)


def test_a_kill_between_the_post_and_the_update_doubles_nothing_and_the_next_run_updates(
    keepa_server: FakeKeepa, env: dict[str, str], conn, one_asin_per_batch
) -> None:
    with KillOnUpdate() as slack:
        environment = {
            **os.environ,
            **env,
            "BATCH_SIZE": "1",
            "KEEPA_API_URL": keepa_server.url,
            "SLACK_API_URL": slack.base_url,
            "SLACK_BOT_TOKEN": "xoxb-000000000-SECRETSLACKTOKEN",
            "SLACK_CHANNEL_ID": SLACK_CHANNEL,
        }
        command = [sys.executable, "-m", "bestseller_cli", "check", "--all"]
        asin_store.add_tracked(
            conn, asins=[LOSER, *FILLERS, HOLDER], marketplace="com", client=None
        )
        keepa_server.set_ranks(LOSER, {GADGETS: 1})
        keepa_server.set_ranks(HOLDER, {GADGETS: 2})
        for filler in FILLERS:
            keepa_server.set_ranks(filler, {GADGETS: 40})
        assert subprocess.run(command, env=environment, capture_output=True).returncode == 0
        hand_the_badge_over(keepa_server)

        slack.victim = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        slack.victim.wait(timeout=120)  # killed by the fake at its chat.update
        assert len(slack.calls("chat.update")) == 1 and len(slack.messages()) == 2
        assert all(message.edits == 0 for message in slack.messages())

        clean = subprocess.run(command, env=environment, capture_output=True, text=True)
        assert clean.returncode == 0, clean.stdout + clean.stderr

        loss, gain = slack.messages(SLACK_CHANNEL)
        assert len(slack.calls("chat.postMessage")) == 2  # nothing posted again
        assert (loss.edits, gain.edits) == (1, 0)
        assert f"Now #1: {HOLDER}" in text_of(loss) and f"Displaced: {LOSER}" in text_of(gain)
        rows = conn.execute("SELECT id, status, story_update FROM notification_log ORDER BY id")
        (loss_id, *loss_state), (gain_id, *gain_state) = rows.fetchall()
        assert (loss_state, gain_state) == (["sent", "updated"], ["sent", None])
        assert (loss.outbox_ids, gain.outbox_ids) == ([loss_id], [gain_id])


def test_a_gain_in_the_first_batch_reaches_slack_before_the_last_batch_is_requested(
    keepa: FakeKeepa, slack: FakeSlack, conn, one_asin_per_batch
) -> None:
    track_and_take_a_baseline(keepa, conn)
    keepa.set_ranks(LOSER, {GADGETS: 2})
    keepa.set_ranks(HOLDER, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(LOSER, {GADGETS: 1})
    keepa.set_ranks(HOLDER, {GADGETS: 1})  # no loss in the pass: one gain, in batch one
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    events: list[str] = []
    answer, handle = keepa.answer, slack.handle

    def keepa_answer(path: str, query: dict[str, list[str]]) -> Any:
        if "asin" in query:
            events.append(f"keepa {query['asin'][0]}")
        return answer(path, query)

    def slack_handle(request: RecordedRequest) -> Any:
        events.append(f"slack {request.method}")
        return handle(request)

    keepa.answer, slack.handle = keepa_answer, slack_handle  # type: ignore[method-assign]
    run_check(load_settings(), options=FULL_PASS)

    assert events.count("slack chat.postMessage") == 1
    assert events.index("slack chat.postMessage") < events.index(f"keepa {HOLDER}")
