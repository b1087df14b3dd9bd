"""Check what is due, most urgent first: a run takes the ASINs due within its share of the
plan, never more, never one twice inside its interval; `--all` takes every ASIN."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa
from tests.conftest import FULL_PASS

GADGETS, KITCHEN = 289913, 1055398
HOLDER, NEAR, MIDDLE, FAR = "B0HOLDER01", "B0NEAR0001", "B0MIDDLE01", "B0FARAWAY1"
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def watch(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    """Four products: one holding #1, one at #2, one at #50 and one at #500."""
    asin_store.add_tracked(conn, asins=[HOLDER, NEAR, MIDDLE, FAR], marketplace="com", client=None)
    for asin, rank in ((HOLDER, 1), (NEAR, 2), (MIDDLE, 50), (FAR, 500)):
        keepa.set_ranks(asin, {KITCHEN: 40_000, GADGETS: rank})


def fetched(keepa: FakeKeepa, since: int = 0) -> list[str]:
    """The ASINs of the /product requests from the `since`-th on, in order."""
    asked = keepa.sent_to("product")[since:]
    return [asin for query in asked for asin in query["asin"][0].split(",")]


def test_a_run_checks_what_is_due_and_nothing_twice_inside_its_interval(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    watch(keepa, conn)
    first = run_check(load_settings(), clock=lambda: T0)
    assert first.checked == 4  # never checked: every ASIN is due
    requests = len(keepa.sent_to("product"))

    again = run_check(load_settings(), clock=lambda: T0 + timedelta(minutes=5))
    assert (again.checked, again.asins_due) == (0, 0)
    assert len(keepa.sent_to("product")) == requests  # no token spent

    later = run_check(load_settings(), clock=lambda: T0 + timedelta(minutes=15))
    assert sorted(fetched(keepa, requests)) == [HOLDER, NEAR]  # every run; the rest later
    assert later.exit_code == 0


def test_urgency_orders_the_work_when_the_budget_is_short(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch(keepa, conn)
    run_check(load_settings(), options=FULL_PASS, clock=lambda: T0)
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "8")  # 2 tokens per 15-minute run
    requests = len(keepa.sent_to("product"))
    summary = run_check(load_settings(), clock=lambda: T0 + timedelta(hours=5))
    # Due: the holder and #2 (every run, 20x overdue), #50 (every 250 min); not #500.
    assert fetched(keepa, requests) == [HOLDER, NEAR]
    assert (summary.asins_due, summary.checked, summary.asins_deferred) == (3, 2, 1)
    assert summary.run_budget == 2 and summary.exit_code == 0
    # The next run takes the one left, first in line.
    requests = len(keepa.sent_to("product"))
    run_check(load_settings(), clock=lambda: T0 + timedelta(hours=5, minutes=15))
    assert fetched(keepa, requests)[0] == MIDDLE


def test_the_plan_is_never_exceeded(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "20")  # 5 per run
    asins = [f"B0{n:08d}" for n in range(30)]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client=None)
    for n, asin in enumerate(asins):
        keepa.set_ranks(asin, {KITCHEN: 40_000, GADGETS: 1 + n % 4})  # all near #1
    runs = [T0 + timedelta(minutes=15 * n) for n in range(12)]
    runs.insert(5, runs[4] + timedelta(minutes=2))  # an operator's extra run in between
    for moment in runs:
        run_check(load_settings(), clock=lambda moment=moment: moment)
    calls = conn.execute(
        "SELECT called_at, tokens_consumed FROM api_usage_log WHERE tokens_consumed > 0"
    ).fetchall()
    for start in runs:  # no 60 minutes ever spent more than the plan...
        window = [t for at, t in calls if start <= at < start + timedelta(minutes=60)]
        assert sum(window) <= 20
    # ...and all of it was used: the run on the hour does not count the tokens of the run an
    # hour before it, which no 60 minutes holding it contain (three hours of 20 tokens).
    assert sum(tokens for _, tokens in calls) == 60


def test_check_all_checks_every_asin_due_or_not(keepa: FakeKeepa, conn) -> None:
    watch(keepa, conn)
    run_check(load_settings(), clock=lambda: T0)
    requests = len(keepa.sent_to("product"))
    result = CliRunner().invoke(app, ["check", "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == 4
    assert sorted(fetched(keepa, requests)) == sorted([HOLDER, NEAR, MIDDLE, FAR])


def test_asins_list_shows_each_asins_next_check_and_why(keepa: FakeKeepa, conn) -> None:
    watch(keepa, conn)
    asin_store.add_tracked(conn, asins=["B0NEWONE01"], marketplace="com", client=None)
    run_check(load_settings(), options=FULL_PASS, clock=lambda: T0)
    conn.execute("DELETE FROM asin_current_state WHERE asin = 'B0NEWONE01'")
    listed = CliRunner().invoke(app, ["asins", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    by_asin = {row["asin"]: row for row in json.loads(listed.stdout)}
    # Near #1, a product is a candidate every run (live when it pays), with its chance.
    assert by_asin[HOLDER]["check_reason"].startswith("holds #1 in 1 category; ")
    assert by_asin[NEAR]["check_reason"].startswith("reached #2 in a category; ")
    assert by_asin[NEAR]["check_reason"].endswith(": every run, live when it pays")
    assert by_asin[MIDDLE]["check_reason"] == "closest rank #50"
    assert by_asin["B0NEWONE01"]["next_check_at"] is None
    assert by_asin["B0NEWONE01"]["check_reason"] == "first check"
    next_at = datetime.fromisoformat(by_asin[NEAR]["next_check_at"].replace("Z", "+00:00"))
    assert next_at == T0 + timedelta(minutes=15)
    table = CliRunner().invoke(app, ["asins", "list"])
    assert "reached #2 in a category" in " ".join(table.output.split())


def test_a_plan_too_small_for_the_ceiling_says_so_and_opens_the_condition(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_TOKENS_PER_HOUR", "1")  # 24 ASINs a day; 30 are watched
    asins = [f"B0{n:08d}" for n in range(30)]
    asin_store.add_tracked(conn, asins=asins, marketplace="com", client=None)
    for asin in asins:
        keepa.set_ranks(asin, {KITCHEN: 40_000, GADGETS: 900})
    summary = run_check(load_settings(), clock=lambda: T0)
    assert summary.checked == 1
    assert summary.plan_too_small is not None
    assert "once per 24 h (CHECK_CEILING_HOURS) it can watch 24 ASINs" in summary.plan_too_small
    assert any("Keepa plan is too small" in warning for warning in summary.warnings)
    [(kind, effect)] = conn.execute(
        "SELECT kind, effect FROM ops_conditions WHERE closed_at IS NULL"
    ).fetchall()
    assert kind == "keepa_plan" and "it can watch 24 ASINs" in effect
