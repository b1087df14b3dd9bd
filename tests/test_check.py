"""`bestseller check`: every badge change detected once, recorded, and alerted once."""

import json

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli import client_store, db, store
from bestseller_cli.cli import app
from bestseller_cli.config import load_settings
from bestseller_cli.monitor import run_check
from fakes.keepa_server import FakeKeepa

GADGETS, HEADPHONES, KITCHEN = 289913, 3015427011, 1055398
A, B, C = "B0AAAAAAAA", "B0BBBBBBBB", "B0CCCCCCCC"


def track(conn: psycopg.Connection, *asins: str, client: str | None = None) -> None:
    if client is not None:
        client_store.add_client(conn, name=client)
    store.add_tracked(conn, asins=list(asins), marketplace="com", client=client)


def changes(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT asin, category_id, kind, rank_before, rank_after FROM bestseller_changes"
        " ORDER BY asin, category_id"
    ).fetchall()


def outbox(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT c.asin, c.category_name, c.kind, n.status FROM notification_log n"
        " JOIN bestseller_changes c ON c.id = n.change_id ORDER BY c.asin"
    ).fetchall()


def test_the_first_pass_is_a_baseline_and_alerts_nothing(keepa: FakeKeepa, conn) -> None:
    track(conn, A, B)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    keepa.set_ranks(B, {HEADPHONES: 3})
    summary = run_check(load_settings())
    assert (summary.checked, summary.baselines, summary.gained, summary.lost) == (2, 2, 0, 0)
    assert changes(conn) == []
    assert outbox(conn) == []
    assert summary.exit_code == 0


def test_a_loss_and_a_gain_are_detected_once_each(keepa: FakeKeepa, conn) -> None:
    track(conn, A, B)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    keepa.set_ranks(B, {HEADPHONES: 3})
    run_check(load_settings())

    keepa.set_ranks(A, {KITCHEN: 41, GADGETS: 2})
    keepa.set_ranks(B, {HEADPHONES: 1})
    printed: list[str] = []
    second = run_check(load_settings(), show=lambda message: printed.append(message.text))
    assert changes(conn) == [(A, GADGETS, "lost", 1, 2), (B, HEADPHONES, "gained", 3, 1)]
    assert outbox(conn) == [
        (A, "Kitchen Utensils & Gadgets", "lost", "printed"),
        (B, "Headphone Accessories", "gained", "printed"),
    ]
    assert (second.gained, second.lost, second.alerts_printed) == (1, 1, 2)
    assert any(A in text for text in printed) and any(B in text for text in printed)

    third = run_check(load_settings())
    assert (third.gained, third.lost, third.alerts_printed) == (0, 0, 0)
    assert len(changes(conn)) == 2


def test_an_unavailable_product_is_not_a_loss(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 1})
    run_check(load_settings())
    del keepa.world[("com", A)]
    summary = run_check(load_settings())
    assert (summary.unavailable, summary.lost) == (1, 0)
    assert changes(conn) == []
    badges = conn.execute("SELECT badges FROM asin_current_state WHERE asin = %s", (A,)).fetchone()
    assert list(badges[0]) == [str(GADGETS)]


def test_every_pass_keeps_a_check_and_a_rank_point_only_per_change(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    for main_rank, gadgets in ((40, 2), (41, 2), (42, 1)):
        keepa.set_ranks(A, {KITCHEN: main_rank, GADGETS: gadgets})  # the first is the main
        run_check(load_settings())
    checks = conn.execute(
        "SELECT main_rank, badges FROM history_checks WHERE asin = %s ORDER BY observed_at",
        (A,),
    ).fetchall()
    assert checks == [(40, 0), (41, 0), (42, 1)]
    points = conn.execute(
        "SELECT category_id, rank FROM rank_points WHERE asin = %s ORDER BY observed_at", (A,)
    ).fetchall()
    assert points == [(GADGETS, 2), (GADGETS, 1)]  # the main category's rank is per check
    details = conn.execute("SELECT count(*) FROM asin_details WHERE asin = %s", (A,)).fetchone()
    assert details == (1,)  # title, price, rating and reviews never changed
    sizes = conn.execute("SELECT summary ? 'database_bytes' FROM check_runs").fetchall()
    assert sizes == [(True,)] * 3  # each pass leaves the database's size for `doctor`


def test_an_asin_tracked_by_two_clients_is_fetched_once(keepa: FakeKeepa, conn) -> None:
    track(conn, A, client="acme")
    track(conn, A, client="globex")
    keepa.set_ranks(A, {GADGETS: 1})
    summary = run_check(load_settings())
    assert summary.checked == 1
    assert keepa.products_served == 1


def test_250_asins_take_three_keepa_requests_and_one_token_each(keepa: FakeKeepa, conn) -> None:
    asins = [f"B0{n:08d}" for n in range(250)]
    track(conn, *asins)
    for asin in asins:
        keepa.set_ranks(asin, {GADGETS: 5})
    summary = run_check(load_settings())
    product_requests = [q for q in keepa.requests if "asin" in q]
    assert [len(q["asin"][0].split(",")) for q in product_requests] == [100, 100, 50]
    assert summary.tokens_used == 250
    usage = conn.execute(
        "SELECT sum(tokens_consumed), sum(asin_count) FROM api_usage_log WHERE endpoint = 'product'"
    ).fetchone()
    assert usage == (250, 250)


def test_a_pass_limited_to_one_asin_checks_only_it(keepa: FakeKeepa, conn) -> None:
    track(conn, A, B)
    keepa.set_ranks(A, {GADGETS: 1})
    keepa.set_ranks(B, {GADGETS: 2})
    summary = run_check(load_settings(), asins=[B])
    assert summary.checked == 1
    assert conn.execute("SELECT asin FROM asin_current_state").fetchall() == [(B,)]


def test_a_dry_run_writes_and_sends_nothing(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 2})
    run_check(load_settings())
    keepa.set_ranks(A, {GADGETS: 1})
    summary = run_check(load_settings(), dry_run=True)
    assert [(c.asin, c.kind) for c in summary.changes] == [(A, "gained")]
    assert changes(conn) == []
    assert conn.execute("SELECT count(*) FROM history_checks").fetchone() == (1,)


def test_a_dry_run_also_looks_at_asins_never_checked(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 1})
    summary = run_check(load_settings(), dry_run=True)
    assert (summary.checked, summary.baselines) == (1, 1)
    assert conn.execute("SELECT count(*) FROM asin_current_state").fetchone() == (0,)


def test_a_watch_list_longer_than_a_work_page_is_fetched_once_per_asin(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "2")  # work pages of 2 x 50 = 100 ASINs
    in_com = [f"B0{index:08d}" for index in range(230)]
    in_de = [f"B1{index:08d}" for index in range(30)]
    track(conn, *in_com)
    store.add_tracked(conn, asins=in_de, marketplace="de", client=None)
    for asin in in_com:
        keepa.set_ranks(asin, {GADGETS: 5})
    for asin in in_de:
        keepa.set_ranks(asin, {GADGETS: 5}, marketplace="de")

    summary = run_check(load_settings())
    assert (summary.asins_to_check, summary.checked, summary.unchecked) == (260, 260, [])
    assert keepa.products_served == 260
    asked = [
        asin for query in keepa.requests if "asin" in query for asin in query["asin"][0].split(",")
    ]
    assert sorted(asked) == sorted(in_com + in_de)


def test_a_held_run_lock_ends_the_pass_at_once_with_exit_0(
    keepa: FakeKeepa, conn, database_url: str
) -> None:
    track(conn, A)
    with psycopg.connect(database_url, autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s)", (db.RUN_LOCK_ID,))
        result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0
    assert "run lock is held" in result.output
    assert keepa.requests == []


def test_keepa_out_of_tokens_reports_unchecked_asins_and_exits_1(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "1")
    monkeypatch.setenv("KEEPA_MAX_TOKEN_WAIT_SECONDS", "0")
    track(conn, A, B)
    keepa.set_ranks(A, {GADGETS: 1})
    keepa.set_ranks(B, {GADGETS: 1})
    keepa.tokens_left = 1
    original = keepa.answer

    def out_of_tokens_after_first(path: str, query: dict) -> tuple[int, dict]:
        if "asin" in query and keepa.products_served >= 1:
            return 429, {"tokensLeft": -1, "refillIn": 60_000, "refillRate": 5}
        return original(path, query)

    keepa.answer = out_of_tokens_after_first  # type: ignore[method-assign]
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["unchecked"] == ["B0BBBBBBBB (com)"]

    keepa.answer = original  # type: ignore[method-assign]
    resumed = run_check(load_settings())
    assert resumed.resumed and resumed.checked == 1


def test_check_json_prints_the_whole_summary_and_only_it(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_LOOKUP", "true")
    track(conn, A)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 2})
    run_check(load_settings())
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    result = CliRunner().invoke(app, ["check", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON on stdout (the alert: stderr)

    run_id, duration, latency = (
        summary.pop(key) for key in ("run_id", "duration_seconds", "detection_latency_ms_max")
    )
    assert isinstance(run_id, int) and isinstance(duration, float)
    assert isinstance(latency, float)
    (change,) = summary.pop("changes")
    assert (change["asin"], change["category_id"], change["kind"]) == (A, GADGETS, "gained")
    assert (change["rank_before"], change["rank_after"], change["main_rank"]) == (2, 1, 40)
    assert change["marketplace"] == "com" and change["detected_at"].endswith("Z")
    assert summary == {
        "resumed": False,
        "lock_held_elsewhere": False,
        "dry_run": False,
        "asins_to_check": 1,
        "checked": 1,
        "unavailable": 0,
        "baselines": 0,
        "gained": 1,
        "lost": 0,
        "alerts_queued": 1,
        "alerts_sent": 0,
        "alerts_printed": 1,
        "alerts_failed": 0,
        "alerts_recovered": 0,
        "alerts_folded_into_flapping": 0,
        "alerts_undelivered": 0,
        "alerts_updated": 0,
        "holders_looked_up": 0,  # null when KEEPA_BESTSELLERS_LOOKUP is off
        "tokens_needed": 1,
        "tokens_available": keepa.tokens_left + 1,
        "tokens_used": 1,
        "categories_named": 0,
        "stale": 0,
        "variation_parents": [],
        "invalid": [],
        "stopped_because": None,
        "unchecked": [],
        "warnings": [],
        "conditions": [],
        "exit_code": 0,
    }
