"""Category watch drills through the CLI: a plan too short for the lists keeps the product
checks at their ceiling and stretches the category, and says so; a pass killed while it
fetches a list, or right after Slack took its "New #1" post, loses and doubles nothing: the
next pass sends that alert once."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store, category_store
from fakes import SLACK_TEST_TOKEN
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack, RecordedRequest, _Scripted
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS, SLACK_CHANNEL

KITCHEN, GADGETS = 3167641, 289913
OURS, NEWCOMER = "B0OURS0001", "B0NEWCOME1"
FAR = [f"B0FARAWAY{n}" for n in range(5)]
runner = CliRunner()


def test_a_short_plan_checks_the_products_at_their_ceiling_and_stretches_the_category(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five products far from #1, checked a day ago: each is at the 24 h ceiling now. A
    15-minute run of a 40 tokens/h plan has 10 tokens: the five, and no 50-token list."""
    asin_store.add_tracked(conn, asins=FAR, marketplace="com", client=None)
    day_ago = datetime.now(UTC) - timedelta(hours=24)
    for asin in FAR:
        keepa.set_ranks(asin, {GADGETS: 500})
        keepa.options[asin] = {"last_update": day_ago}  # Keepa looked then, as we did
    run_check(load_settings(), options=FULL_PASS, clock=lambda: day_ago)
    category_store.watch(conn, "com", [KITCHEN], client_id=None, every_hours=4, top_n=None)
    keepa.best_seller_lists[("com", KITCHEN)] = [NEWCOMER, OURS]
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "40")

    result = runner.invoke(app, ["check"])
    told = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "ASINs checked │ 5 of 5" in told  # every product at the ceiling
    assert "ASINs past CHECK_CEILING_HOURS" not in told
    assert "watched categories stretched to a later run │ 1" in told
    assert "1 watched categories wait for the next run" in told
    assert "product checks come first" in told
    assert keepa.sent_to("bestsellers") == []
    [(next_check,)] = conn.execute("SELECT next_check_at FROM watched_categories").fetchall()
    assert next_check > datetime.now(UTC)  # asked again by a later run, not lost


def test_a_due_list_is_bought_before_live_refreshes_though_the_run_could_spend_it_all_on_them(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sixty products each holding #1 somewhere, checked a minute ago: every one is worth a
    live refresh (two tokens while Keepa's data is under an hour old), 120 tokens, more than
    a 15-minute run of a 400 tokens/h plan has (100). The due list (50) comes first."""
    holders = [f"B0HOLDER{n:02d}" for n in range(60)]
    asin_store.add_tracked(conn, asins=holders, marketplace="com", client=None)
    for index, asin in enumerate(holders):
        keepa.set_ranks(asin, {GADGETS + index: 1})
    run_check(load_settings(), options=FULL_PASS)
    category_store.watch(conn, "com", [KITCHEN], client_id=None, every_hours=4, top_n=None)
    keepa.best_seller_lists[("com", KITCHEN)] = [NEWCOMER, OURS]
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "400")

    later = datetime.now(UTC) + timedelta(minutes=16)
    run_check(load_settings(), clock=lambda: later)
    assert len(keepa.sent_to("bestsellers")) == 1
    live = [q for q in keepa.sent_to("product") if q.get("update") == ["0"]]
    checked = sum(len(q["asin"][0].split(",")) for q in live)
    assert 0 < checked < 60 and 2 * checked + 50 <= 100  # what the list left, all of it live


# --- a pass killed mid-way ----------------------------------------------------------------


def is_new_holder_post(request: RecordedRequest) -> bool:
    return request.method == "chat.postMessage" and "New #1" in json.dumps(request.params)


class KillAfterThePost(FakeSlack):
    """Takes the "New #1" post, then kills the pass before answering it: the crash window
    between Slack keeping a message and the pass recording it as sent."""

    victim: subprocess.Popen | None = None

    def handle(self, request: RecordedRequest) -> tuple[Any, dict[str, Any]]:
        if self.victim is not None and is_new_holder_post(request):
            super().handle(request)
            self.victim.kill()
            self.victim.wait()
            self.victim = None
            return _Scripted(drop=True), {}
        return super().handle(request)


def kill_at_the_list(keepa: FakeKeepa, slack: KillAfterThePost) -> Callable[[Any], None]:
    """Kills the pass when it asks Keepa for the category's list, before the answer."""
    original = keepa.answer

    def arm(victim: subprocess.Popen) -> None:
        def answer(path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
            if path.endswith("/bestsellers") and not victim.poll():
                victim.kill()
                victim.wait()
            return original(path, query)

        keepa.answer = answer  # type: ignore[method-assign]

    return arm


def kill_after_the_post(keepa: FakeKeepa, slack: KillAfterThePost) -> Callable[[Any], None]:
    def arm(victim: subprocess.Popen) -> None:
        slack.victim = victim

    return arm


@pytest.fixture
def killing_slack() -> Iterator[KillAfterThePost]:
    with KillAfterThePost() as server:
        yield server


@pytest.mark.parametrize(("kill", "lists_asked"), [(kill_at_the_list, 3), (kill_after_the_post, 2)])
def test_a_pass_killed_mid_way_sends_the_new_number_one_exactly_once(
    env: dict[str, str],
    conn: psycopg.Connection,
    keepa_server: FakeKeepa,
    killing_slack: KillAfterThePost,
    kill: Callable[[FakeKeepa, KillAfterThePost], Callable[[Any], None]],
    lists_asked: int,
) -> None:
    environment = {
        **os.environ,
        **env,
        "KEEPA_API_URL": keepa_server.url,
        "SLACK_API_URL": killing_slack.base_url,
        "SLACK_BOT_TOKEN": SLACK_TEST_TOKEN,
        "SLACK_CHANNEL_ID": SLACK_CHANNEL,
    }
    command = [sys.executable, "-m", "bestseller_cli", "check", "--all"]
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    keepa_server.set_ranks(OURS, {KITCHEN: 1})
    keepa_server.best_seller_lists[("com", KITCHEN)] = [OURS]
    category_store.watch(conn, "com", [KITCHEN], client_id=None, every_hours=4, top_n=None)
    assert subprocess.run(command, env=environment, capture_output=True).returncode == 0
    conn.execute("UPDATE watched_categories SET next_check_at = NULL")  # due again
    keepa_server.best_seller_lists[("com", KITCHEN)] = [NEWCOMER, OURS]
    keepa_server.list_updates[("com", KITCHEN)] = datetime.now(UTC) - timedelta(minutes=10)

    victim = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kill(keepa_server, killing_slack)(victim)
    assert victim.wait(timeout=120) < 0  # killed, not finished
    clean = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    posts = [m for m in killing_slack.messages(SLACK_CHANNEL) if "New #1" in text_of(m)]
    assert len(posts) == 1 and f"Now #1: {NEWCOMER}" in text_of(posts[0])
    [(outbox_id, status)] = conn.execute(
        "SELECT n.id, n.status FROM bestseller_changes c JOIN notification_log n"
        " ON n.change_id = c.id WHERE c.kind = 'new_holder'"
    ).fetchall()
    assert (status, posts[0].outbox_ids) == ("sent", [outbox_id])
    # The baseline's list, then the killed pass's; the next pass asks again only when the
    # kill came before the list was written.
    assert len(keepa_server.sent_to("bestsellers")) == lists_asked
    stretches = conn.execute(
        "SELECT asin, held_until IS NULL FROM category_holders ORDER BY held_from"
    ).fetchall()
    assert stretches == [(OURS, False), (NEWCOMER, True)]
