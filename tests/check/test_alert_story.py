"""Alerts that tell the whole story without the noise: who took #1, the trajectory,
flap control, digests and quiet hours."""

from datetime import UTC, datetime, time, timedelta

import psycopg

from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store, client_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.conftest import FULL_PASS, SLACK_CHANNEL

GADGETS = 289913
OURS, THEIRS, OTHER = "B0OURS0001", "B0THEIRS01", "B0OTHER001"
CHANNEL = SLACK_CHANNEL


def text_of(message) -> str:
    """Everything a reader sees in a message: fallback text and every block's text (a
    printed alert: its line and its details)."""
    parts = [message.text, *getattr(message, "details", ())]
    for block in getattr(message, "blocks", ()):
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []) + block.get("fields", []):
            parts.append(element.get("text", ""))
    return "\n".join(parts)


def set_rule(conn: psycopg.Connection, **columns: object) -> None:
    """The `acme` client's one rule, on CHANNEL."""
    conn.execute("INSERT INTO clients (name) VALUES ('acme') ON CONFLICT DO NOTHING")
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    conn.execute(
        f"INSERT INTO notification_rules (client_id, slack_channel_id, {names})"
        f" SELECT id, %s, {marks} FROM clients WHERE name = 'acme'",
        (CHANNEL, *columns.values()),
    )


def test_a_loss_names_who_took_it_and_the_gain_whom_it_displaced(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    client_store.add_client(conn, name="acme")
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client="acme")
    asin_store.add_tracked(conn, asins=[THEIRS], marketplace="com", client="acme")
    conn.execute("UPDATE tracked_asins SET role = 'competitor' WHERE asin = %s", (THEIRS,))
    keepa.set_ranks(OURS, {GADGETS: 1})
    keepa.set_ranks(THEIRS, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS)
    requests_before = len(keepa.requests)

    keepa.set_ranks(OURS, {GADGETS: 2})
    keepa.set_ranks(THEIRS, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    by_asin = {OURS if OURS in m.text else THEIRS: text_of(m) for m in slack.messages(CHANNEL)}
    assert f"Now #1: {THEIRS}" in by_asin[OURS] and "tracked competitor" in by_asin[OURS]
    assert f"Displaced: {OURS}" in by_asin[THEIRS] and "your product" in by_asin[THEIRS]
    new_requests = keepa.requests[requests_before:]
    assert all("asin" in query or query.get("key") for query in new_requests)
    assert len([query for query in new_requests if "asin" in query]) == 1  # one product batch


def test_a_gain_shows_the_rank_trajectory(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    for rank in (7, 4, 2, 1):
        keepa.set_ranks(OURS, {GADGETS: rank})
        run_check(load_settings(), options=FULL_PASS)
    [message] = slack.messages(CHANNEL)
    assert "#7 → #4 → #2 → #1" in text_of(message)
    assert "First time at #1" in text_of(message)


def test_a_loss_says_how_long_the_badge_was_held(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    for hours, rank in ((0, 2), (1, 1), (4, 3)):
        keepa.set_ranks(OURS, {GADGETS: rank})
        run_check(
            load_settings(), options=FULL_PASS, clock=lambda h=hours: start + timedelta(hours=h)
        )
    loss = [m for m in slack.messages(CHANNEL) if "lost" in m.text.lower()]
    assert len(loss) == 1
    assert "Held #1 for 3 h 0 min" in text_of(loss[0])


def test_gain_loss_gain_within_the_window_is_one_updated_message(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    for rank in (2, 1, 3, 1):
        keepa.set_ranks(OURS, {GADGETS: rank})
        run_check(load_settings(), options=FULL_PASS)
    [message] = slack.messages(CHANNEL)
    assert message.edits == 2
    assert "Flapping: gained → lost → gained" in text_of(message)
    kinds = conn.execute("SELECT kind FROM bestseller_changes ORDER BY id").fetchall()
    assert kinds == [("gained",), ("lost",), ("gained",)]
    decisions = conn.execute(
        "SELECT status, COALESCE(reason, '') LIKE 'flapping%%' FROM notification_log ORDER BY id"
    ).fetchall()
    assert decisions == [("sent", False), ("suppressed", True), ("suppressed", True)]


def test_with_the_window_off_every_change_is_its_own_message(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client=None)
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    for rank in (2, 1, 3, 1):
        keepa.set_ranks(OURS, {GADGETS: rank})
        run_check(load_settings(), options=FULL_PASS)
    assert len(slack.messages(CHANNEL)) == 3


def test_quiet_hours_hold_alerts_until_the_first_run_after_they_end(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    set_rule(conn, quiet_start=time(22), quiet_end=time(7), timezone="Europe/Berlin")
    asin_store.add_tracked(conn, asins=[OURS], marketplace="com", client="acme")
    berlin_23h = datetime(2026, 11, 2, 22, tzinfo=UTC)  # 23:00 in Berlin (CET)
    keepa.set_ranks(OURS, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS, clock=lambda: berlin_23h - timedelta(hours=1))
    keepa.set_ranks(OURS, {GADGETS: 1})
    held = run_check(load_settings(), options=FULL_PASS, clock=lambda: berlin_23h)
    assert slack.messages() == [] and held.exit_code == 0
    run_check(
        load_settings(),
        options=FULL_PASS,
        clock=lambda: berlin_23h + timedelta(hours=7, minutes=30),
    )
    assert slack.messages() == []  # 06:30 in Berlin: still quiet
    run_check(
        load_settings(), options=FULL_PASS, clock=lambda: berlin_23h + timedelta(hours=8, minutes=5)
    )
    run_check(load_settings(), options=FULL_PASS, clock=lambda: berlin_23h + timedelta(hours=9))
    [message] = slack.messages(CHANNEL)
    assert OURS in message.text


def test_an_hourly_digest_groups_a_runs_changes_into_one_message(
    keepa: FakeKeepa, slack: FakeSlack, conn
) -> None:
    set_rule(conn, delivery_mode="hourly")
    asins = [OURS, THEIRS, OTHER]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client="acme")
    ten_past = datetime(2026, 11, 2, 10, 10, tzinfo=UTC)
    for asin in asins:
        keepa.set_ranks(asin, {GADGETS: 5, 1055398: 1})
    run_check(load_settings(), options=FULL_PASS, clock=lambda: ten_past)
    for asin in asins:
        keepa.set_ranks(asin, {GADGETS: 5, 1055398: 2})
    run_check(load_settings(), options=FULL_PASS, clock=lambda: ten_past + timedelta(minutes=5))
    assert slack.messages() == []
    run_check(load_settings(), options=FULL_PASS, clock=lambda: ten_past + timedelta(minutes=51))
    [digest] = slack.messages(CHANNEL)
    assert all(asin in text_of(digest) for asin in asins)
    assert len(digest.outbox_ids) == 3
    statuses = conn.execute("SELECT DISTINCT status, slack_ts FROM notification_log").fetchall()
    assert statuses == [("sent", digest.ts)]


def test_the_report_counts_what_the_alerts_said(keepa: FakeKeepa, slack: FakeSlack, conn) -> None:
    import json

    from typer.testing import CliRunner

    from bestseller_cli.cli.app import app

    asin_store.add_tracked(conn, asins=[OURS, THEIRS], marketplace="com", client=None)
    conn.execute("UPDATE global_notification_settings SET renotify_window_minutes = 0")
    for ours, theirs in ((1, 2), (2, 1), (1, 3), (1, 1)):
        keepa.set_ranks(OURS, {GADGETS: ours})
        keepa.set_ranks(THEIRS, {GADGETS: theirs})
        run_check(load_settings(), options=FULL_PASS)
    result = CliRunner().invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    messages = slack.messages(CHANNEL)
    gained = [m for m in messages if "gained" in m.text]
    lost = [m for m in messages if "lost" in m.text]
    assert (report["changes"]["gained"], report["changes"]["lost"]) == (len(gained), len(lost))
    assert report["alerts"]["sent"] == len(messages) == 5
    holders = {holder["asin"] for holder in report["holders"]}
    assert holders == {OURS, THEIRS}
