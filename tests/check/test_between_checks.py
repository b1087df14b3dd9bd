"""Every change Keepa recorded: a pass walks each rank series since the check before, so a
badge that came and went between two checks is recorded at Keepa's times and told once."""

from datetime import UTC, datetime, timedelta

import psycopg

from bestseller_cli.check.run import run_check
from bestseller_cli.config import load_settings
from bestseller_cli.report.build import build_report
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack
from tests.check.test_alert_story import CHANNEL, text_of
from tests.conftest import FULL_PASS

GADGETS, KITCHEN = 289913, 1055398
A = "B0AAAAAAAA"
# Keepa counts in minutes: every time here is on a whole minute. Keepa (the fake) trims series
# to `days` from its own clock, now: the tests run around it.
T = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


MAIN = [(at(-600), 400)]  # the main category's rank, unchanged since well before the checks


def changes(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT kind, rank_before, rank_after, changed_at, detected_at FROM bestseller_changes"
        " ORDER BY changed_at"
    ).fetchall()


def test_a_flip_between_two_checks_is_recorded_at_keepas_times_and_alerted_once(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-90), 4), (at(-5), 3)]})
    run_check(load_settings(), clock=lambda: at(0))

    # Between the checks Keepa saw it take #1 at 09:12 and lose it at 09:40 (relative).
    flip = [(at(-90), 4), (at(-5), 3), (at(12), 1), (at(40), 2)]
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: flip})
    summary = run_check(load_settings(), clock=lambda: at(60))
    assert (summary.counts["gained"], summary.counts["lost"]) == (1, 1)
    assert changes(conn) == [("gained", 3, 1, at(12), at(60)), ("lost", 1, 2, at(40), at(60))]

    [message] = slack.messages(CHANNEL)
    told = text_of(message)
    assert f"held #1 from {at(12):%H:%M} to {at(40):%H:%M} UTC" in told
    assert "Held #1 for 28 min" in told
    rows = conn.execute(
        "SELECT c.kind, n.status, n.reason IS NOT NULL FROM notification_log n"
        " JOIN bestseller_changes c ON c.id = n.change_id ORDER BY c.changed_at"
    ).fetchall()
    assert rows == [("gained", "suppressed", True), ("lost", "sent", False)]

    report = build_report(conn, since=at(0), until=at(60), client=None, token_cost_usd=0.0)
    assert [(e.kind, e.changed_at) for e in report.changes.events] == [
        ("gained", at(12)),
        ("lost", at(40)),
    ]
    assert "changed_at" in report.model_dump(mode="json")["changes"]["events"][0]

    # The next pass sees the same points again: nothing new.
    again = run_check(load_settings(), clock=lambda: at(75))
    assert (again.counts["gained"], again.counts["lost"]) == (0, 0)
    assert len(slack.messages(CHANNEL)) == 1


def test_thirty_hours_since_the_last_check_lose_nothing(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-600), 5), (at(-60), 2)]})
    run_check(load_settings(), clock=lambda: at(0))

    hours = [(at(h * 60), rank) for h, rank in ((3, 1), (7, 3), (20, 1), (26, 2))]
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-600), 5), (at(-60), 2), *hours]})
    run_check(load_settings(), clock=lambda: at(30 * 60))

    [request] = keepa.sent_to("product")[-1:]
    assert int(request["days"][0]) >= 2  # the window reaches back past the last check
    assert [(kind, when) for kind, _, _, when, _ in changes(conn)] == [
        ("gained", at(180)),
        ("lost", at(420)),
        ("gained", at(1200)),
        ("lost", at(1560)),
    ]


def test_a_missed_run_loses_nothing(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-60), 2)]})
    run_check(load_settings(), clock=lambda: at(0))
    # The run at +15 min never happened (a deploy); the one at +30 min sees both flips.
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-60), 2), (at(5), 1), (at(20), 2)]})
    run_check(load_settings(), clock=lambda: at(30))
    assert [(kind, when) for kind, _, _, when, _ in changes(conn)] == [
        ("gained", at(5)),
        ("lost", at(20)),
    ]


def test_unknown_data_never_alerts(
    keepa: FakeKeepa, slack: FakeSlack, conn: psycopg.Connection
) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {KITCHEN: MAIN, GADGETS: [(at(-60), 1)]})
    run_check(load_settings(), clock=lambda: at(0))
    del keepa.world[("com", A)]  # Keepa no longer knows it: productType 4
    run_check(load_settings(), clock=lambda: at(30))
    keepa.set_ranks(A, {KITCHEN: MAIN})  # a category Keepa stops reporting
    run_check(load_settings(), options=FULL_PASS, clock=lambda: at(60))
    assert changes(conn) == []
    assert slack.messages(CHANNEL) == []
