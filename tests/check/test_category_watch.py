"""Category watch through the CLI and the pass: a new #1 in a watched category, tracked or
not, reaches the channel once, named; the top N is one digest per list; a flip inside the
re-notify window updates one message; the product checks keep their tokens."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS, SLACK_CHANNEL

KITCHEN = 3167641
OURS, RIVAL, NEWCOMER, FOURTH = "B0OURS0001", "B0RIVAL001", "B0NEWCOME1", "B0FOURTH01"
START = datetime(2026, 11, 2, 8, tzinfo=UTC)
runner = CliRunner()


def bestseller(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def list_pass(keepa: FakeKeepa, hours: float, *asins: str) -> CheckSummary:
    """Keepa's list as rebuilt 10 minutes before a pass `hours` after START."""
    at = START + timedelta(hours=hours)
    keepa.best_seller_lists[("com", KITCHEN)] = list(asins)
    keepa.list_updates[("com", KITCHEN)] = at - timedelta(minutes=10)
    return run_check(load_settings(), options=FULL_PASS, clock=lambda: at)


def messages(slack: FakeSlack) -> list[str]:
    return [text_of(message) for message in slack.messages(SLACK_CHANNEL)]


@pytest.fixture
def watched(keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection) -> FakeKeepa:
    conn.execute(
        "INSERT INTO category_names (marketplace, category_id, name, source)"
        " VALUES ('com', %s, 'Kitchen Scales', 'lookup')",
        (KITCHEN,),
    )
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    keepa.set_ranks(OURS, {KITCHEN: 1})
    keepa.set_ranks(NEWCOMER, {KITCHEN: 2})  # Keepa knows it; nobody tracks it
    keepa.titles |= {OURS: "Our scale", NEWCOMER: "Newcomer scale"}
    bestseller("categories", "watch", str(KITCHEN), "--marketplace", "com")
    return keepa


def test_an_untracked_newcomer_taking_number_one_is_one_message_naming_both(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    list_pass(watched, 0, OURS, RIVAL)
    assert messages(slack) == []  # the first list is a baseline
    list_pass(watched, 4, NEWCOMER, OURS)
    [message] = [text for text in messages(slack) if "New #1" in text]
    assert "New #1 in Kitchen Scales" in message
    assert f"Now #1: {NEWCOMER} Newcomer scale (untracked)" in message
    assert f"Before: {OURS} Our scale (your product), now #2" in message
    updated = START + timedelta(hours=4) - timedelta(minutes=10)
    assert f"Keepa's best seller list (sub-category rank), updated {updated:%Y-%m-%d %H:%M}" in (
        message
    )
    # The newcomer was named once (1 token) and its name kept; two lists, two stretches.
    named = [q for q in watched.sent_to("product") if NEWCOMER in q["asin"][0]]
    assert len(named) == 1
    assert conn.execute("SELECT title FROM listed_products").fetchall() == [("Newcomer scale",)]
    stretches = conn.execute(
        "SELECT asin, held_until IS NULL FROM category_holders ORDER BY held_from"
    ).fetchall()
    assert stretches == [(OURS, False), (NEWCOMER, True)]


def test_a_category_not_due_is_not_asked_again(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    list_pass(watched, 0, OURS)
    list_pass(watched, 1, NEWCOMER)
    assert len(watched.sent_to("bestsellers")) == 1
    [every] = conn.execute("SELECT every_hours FROM watched_categories").fetchone() or []
    assert every == 4  # the default


def test_a_flip_inside_the_window_updates_one_message(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    bestseller("categories", "watch", str(KITCHEN), "--marketplace", "com", "--every", "1")
    list_pass(watched, 0, OURS)
    list_pass(watched, 1, NEWCOMER)
    list_pass(watched, 2, OURS)
    [message] = slack.messages(SLACK_CHANNEL)
    assert message.edits == 1
    assert "Flapping: new #1 → new #1" in text_of(message)


def test_top_n_entries_and_exits_are_one_digest_per_list(
    watched: FakeKeepa, slack: FakeSlack
) -> None:
    bestseller("categories", "watch", str(KITCHEN), "--marketplace", "com", "--top", "3")
    list_pass(watched, 0, OURS, RIVAL, FOURTH)
    summary = list_pass(watched, 4, OURS, NEWCOMER, RIVAL)
    assert (summary.counts["list_top_n"], summary.counts["new_holder"]) == (1, 0)
    [digest] = messages(slack)
    assert "Top N moves in Kitchen Scales" in digest
    assert f"Entered at #2: {NEWCOMER} Newcomer scale (untracked)" in digest
    assert f"Left (was #3): {FOURTH}" in digest


def test_verify_refuses_a_category_keepa_has_no_list_for_and_watches_nothing(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    result = runner.invoke(app, ["categories", "watch", "99", "--verify"])
    assert result.exit_code == 2
    assert "no best seller list for category 99" in result.output
    assert conn.execute("SELECT count(*) FROM watched_categories").fetchone() == (0,)
    assert keepa.tokens_left == 100_000  # an empty answer costs nothing


def test_an_empty_answer_in_a_pass_warns_once_and_costs_nothing(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    bestseller("categories", "watch", "99", "--every", "1")
    first = run_check(load_settings(), options=FULL_PASS, clock=lambda: START)
    assert any("no best seller list for category 99" in w for w in first.warnings)
    later = START + timedelta(hours=1)
    second = run_check(load_settings(), options=FULL_PASS, clock=lambda: later)
    assert not any("category 99" in w for w in second.warnings)
    assert first.watched_categories_checked == second.watched_categories_checked == 1


@pytest.mark.parametrize("lookup", ["off", "on"])
def test_a_fresh_watched_list_names_who_took_a_tracked_products_number_one_at_no_token(
    watched: FakeKeepa,
    slack: FakeSlack,
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    lookup: str,
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_LOOKUP", "true" if lookup == "on" else "false")
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    bestseller("categories", "watch", str(KITCHEN), "--marketplace", "com", "--every", "1")
    list_pass(watched, 0, OURS)
    list_pass(watched, 1, NEWCOMER, OURS)  # Keepa's list moved first; our ranks still #1
    lists_asked = len(watched.sent_to("bestsellers"))
    watched.set_ranks(OURS, {KITCHEN: 2})
    list_pass(watched, 1.5, NEWCOMER, OURS)  # the loss, 40 minutes after the list
    assert len(watched.sent_to("bestsellers")) == lists_asked  # not due, not looked up
    [loss] = [text for text in messages(slack) if "New #1" not in text]
    updated = START + timedelta(hours=1) - timedelta(minutes=10)
    assert (
        f"Now #1 per Keepa's best seller list, updated {updated:%Y-%m-%d %H:%M} UTC:"
        f" {NEWCOMER} Newcomer scale" in loss
    )


def test_a_watched_list_older_than_an_hour_at_the_loss_names_nobody(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    list_pass(watched, 0, OURS)
    list_pass(watched, 4, NEWCOMER, OURS)
    watched.set_ranks(OURS, {KITCHEN: 2})
    list_pass(watched, 5.5, NEWCOMER, OURS)  # 1 h 40 min after the list; not due until 8 h
    [loss] = [text for text in messages(slack) if "New #1" not in text]
    assert "Now #1: not known yet" in loss and NEWCOMER not in loss


def test_a_loss_in_the_pass_that_fetches_the_list_is_updated_with_its_holder(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    list_pass(watched, 0, OURS)
    watched.set_ranks(OURS, {KITCHEN: 2})
    list_pass(watched, 4, NEWCOMER, OURS)  # the products first, then the list
    loss = next(m for m in slack.messages(SLACK_CHANNEL) if "New #1" not in text_of(m))
    assert loss.edits == 1  # posted while the holder was unknown, then told who
    assert "per Keepa's best seller list, updated" in text_of(loss)
    assert f"{NEWCOMER} Newcomer scale" in text_of(loss)


def test_a_pass_counts_a_new_number_one_per_kind_and_prints_a_line_for_it(
    watched: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    list_pass(watched, 0, OURS)
    conn.execute("UPDATE watched_categories SET next_check_at = NULL")  # due again
    watched.best_seller_lists[("com", KITCHEN)] = [NEWCOMER, OURS]
    result = runner.invoke(app, ["check", "--all", "--json"])
    record = json.loads(result.stdout)
    assert (record["new_holder"], record["list_top_n"], record["gained"]) == (1, 0, 0)
    [change] = record["changes"]
    assert (change["kind"], change["asin"], change["previous_asin"]) == (
        "new_holder",
        NEWCOMER,
        OURS,
    )
    conn.execute("UPDATE watched_categories SET next_check_at = NULL")
    watched.best_seller_lists[("com", KITCHEN)] = [OURS, NEWCOMER]
    printed = " ".join(runner.invoke(app, ["check", "--all"]).stdout.split())
    assert f"took #1 in Kitchen Scales: {OURS} (com) Our scale" in printed
    assert "changes: new #1 │ 1" in printed
