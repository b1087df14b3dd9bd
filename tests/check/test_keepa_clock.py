"""Checks by Keepa's clock: Keepa answers from its cache until its data is older than an
hour, so a product far from #1 waits for Keepa's refresh, a product holding #1 is asked for
live data (update=0) when the run's tokens allow it, and an answer Keepa served from its
cache is counted as such by the pass and the report."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
from typer.testing import CliRunner

from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store
from fakes.keepa_server import FakeKeepa

GADGETS, KITCHEN = 289913, 1055398
HOLDER, TENTH = "B0HOLDER01", "B0TENTH001"
T0 = datetime.now(UTC).replace(second=0, microsecond=0)
KEEPA_LOOKED = T0 - timedelta(minutes=5)  # Keepa's data in the first answers


def watch(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    """One product holding #1, one at #10 (checked every 50 min by its distance), both as
    Keepa refreshed them 5 minutes before the first run."""
    asin_store.add_tracked(conn, asins=[HOLDER, TENTH], marketplace="com", client=None)
    for asin, rank in ((HOLDER, 1), (TENTH, 10)):
        keepa.set_ranks(asin, {KITCHEN: 40_000, GADGETS: rank})
        keepa.options[asin] = {"last_update": KEEPA_LOOKED}


def product_requests(keepa: FakeKeepa, since: int = 0) -> list[tuple[list[str], str | None]]:
    """The /product requests from the `since`-th on: their ASINs and `update` parameter."""
    return [
        (query["asin"][0].split(","), query.get("update", [None])[0])
        for query in keepa.sent_to("product")[since:]
    ]


def listed(conn: psycopg.Connection) -> dict[str, dict]:
    result = CliRunner().invoke(app, ["asins", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["asin"]: row for row in json.loads(result.stdout)}


def test_a_far_product_waits_for_keepas_refresh_and_the_holder_is_asked_live(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    watch(keepa, conn)
    first = run_check(load_settings(), clock=lambda: T0)
    assert (first.checked, first.fresh_answers, first.live_checks) == (2, 2, 0)
    assert all(update is None for _, update in product_requests(keepa))  # first checks: plain

    # #10 is due in 50 min by its distance, but Keepa refreshes it on request only after
    # 10:56 (its data an hour old): it is planned then, and `asins list` says why.
    refresh = KEEPA_LOOKED + timedelta(hours=1, minutes=1)
    rows = listed(conn)
    assert rows[TENTH]["check_reason"] == f"Keepa's data refreshes at {refresh:%H:%M} UTC"
    assert rows[TENTH]["next_check_at"].startswith(f"{refresh:%Y-%m-%dT%H:%M}")
    assert rows[TENTH]["keepa_updated_at"].startswith(f"{KEEPA_LOOKED:%Y-%m-%dT%H:%M}")
    chance = rows[HOLDER]["chance"]
    assert chance["per_hour"] > rows[TENTH]["chance"]["per_hour"] > 0
    assert 0 < chance["next_hour"] < 1 and "best #1 now" in chance["why"]
    table = CliRunner().invoke(app, ["asins", "list", "--wide"])
    assert "Keepa's data refreshes at" in " ".join(table.output.split())

    # Due anyway (as if its interval had ended before Keepa's refresh), #10 still waits: a
    # plain request would buy the cached answer, and it is not likely enough to pay for live
    # data. The holder is: one request with update=0, for it alone.
    due = T0 + timedelta(minutes=1)
    conn.execute("UPDATE asin_current_state SET next_check_at = %s WHERE asin = %s", (due, TENTH))
    requests = len(keepa.sent_to("product"))
    second = run_check(load_settings(), clock=lambda: T0 + timedelta(minutes=15))
    assert product_requests(keepa, requests) == [([HOLDER], "0")]
    assert (second.checked, second.live_checks, second.waiting_for_keepa) == (1, 1, 1)
    assert (second.fresh_answers, second.cached_answers) == (1, 0)  # live: Keepa refreshed it
    assert second.tokens_used == 2


def test_an_answer_from_keepas_cache_is_counted_as_cached_by_the_pass_and_the_report(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    watch(keepa, conn)
    run_check(load_settings(), clock=lambda: T0)
    requests = len(keepa.sent_to("product"))
    # An operator's check of #10 now: a plain request, and Keepa's data is what it was.
    result = CliRunner().invoke(app, ["check", "--asin", TENTH, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["fresh_answers"], summary["cached_answers"]) == (0, 1)
    assert product_requests(keepa, requests) == [([TENTH], None)]

    report = CliRunner().invoke(app, ["report", "--since", "1h", "--json"])
    assert report.exit_code == 0, report.output
    usage = json.loads(report.stdout)["keepa"]
    assert (usage["fresh_answers"], usage["cached_answers"], usage["live_checks"]) == (2, 1, 0)
    text = CliRunner().invoke(app, ["report", "--since", "1h", "--markdown"])
    assert "2 checks bought a fresh observation, 1 a cached answer" in text.output
