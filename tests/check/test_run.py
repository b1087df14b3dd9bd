"""`bestseller check`: every badge change detected once, recorded, and alerted once."""

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.store import asin_store, client_store, db
from fakes.keepa_server import FakeKeepa
from fakes.trickle_server import TricklingKeepa
from tests.conftest import FULL_PASS

GADGETS, HEADPHONES, KITCHEN = 289913, 3015427011, 1055398
A, B, C = "B0AAAAAAAA", "B0BBBBBBBB", "B0CCCCCCCC"


def track(conn: psycopg.Connection, *asins: str, client: str | None = None) -> None:
    if client is not None:
        client_store.add_client(conn, name=client)
    asin_store.add_tracked(conn, asins=list(asins), marketplace="com", client=client)


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
    summary = run_check(load_settings(), options=FULL_PASS)
    assert (
        summary.checked,
        summary.baselines,
        summary.counts["gained"],
        summary.counts["lost"],
    ) == (2, 2, 0, 0)
    assert changes(conn) == []
    assert outbox(conn) == []
    assert summary.exit_code == 0


def test_a_loss_and_a_gain_are_detected_once_each(keepa: FakeKeepa, conn) -> None:
    track(conn, A, B)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    keepa.set_ranks(B, {HEADPHONES: 3})
    run_check(load_settings(), options=FULL_PASS)

    keepa.set_ranks(A, {KITCHEN: 41, GADGETS: 2})
    keepa.set_ranks(B, {HEADPHONES: 1})
    printed: list[str] = []
    second = run_check(
        load_settings(), options=FULL_PASS, show=lambda message: printed.append(message.text)
    )
    assert changes(conn) == [(A, GADGETS, "lost", 1, 2), (B, HEADPHONES, "gained", 3, 1)]
    assert outbox(conn) == [
        (A, "Kitchen Utensils & Gadgets", "lost", "printed"),
        (B, "Headphone Accessories", "gained", "printed"),
    ]
    assert (second.counts["gained"], second.counts["lost"], second.alerts_printed) == (1, 1, 2)
    assert any(A in text for text in printed) and any(B in text for text in printed)

    third = run_check(load_settings(), options=FULL_PASS)
    assert (third.counts["gained"], third.counts["lost"], third.alerts_printed) == (0, 0, 0)
    assert len(changes(conn)) == 2


def test_an_unavailable_product_is_not_a_loss(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    del keepa.world[("com", A)]
    summary = run_check(load_settings(), options=FULL_PASS)
    assert (summary.unavailable, summary.counts["lost"]) == (1, 0)
    assert changes(conn) == []
    badges = conn.execute("SELECT badges FROM asin_current_state WHERE asin = %s", (A,)).fetchone()
    assert list(badges[0]) == [str(GADGETS)]


def test_asins_left_out_of_keepas_answer_are_counted_warned_and_unknown_after_n_passes(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_MISSING_PASSES_UNKNOWN", "2")
    track(conn, A, B)
    keepa.set_ranks(A, {GADGETS: 2})
    keepa.set_ranks(B, {GADGETS: 1})
    run_check(load_settings(), options=FULL_PASS)
    state = "SELECT available, badge_category_ids, missing_passes FROM asin_current_state"
    b_state = f"{state} WHERE asin = '{B}'"

    keepa.omitted = {B}
    first = CliRunner().invoke(app, ["check", "--all"])
    assert first.exit_code == 0
    assert "left out 1 requested ASIN(s): B0BBBBBBBB (com)" in first.output
    assert conn.execute(b_state).fetchone() == (True, [GADGETS], 1)  # last known state stands
    missing_errors = "SELECT count(*) FROM error_log WHERE kind = 'missing_product'"
    assert conn.execute(missing_errors).fetchone() == (1,)

    second = run_check(load_settings(), options=FULL_PASS)
    assert (second.missing_from_keepa, second.now_unknown) == ([f"{B} (com)"], [f"{B} (com)"])
    assert any("now unknown after 2 passes" in warning for warning in second.warnings)
    assert conn.execute(b_state).fetchone() == (False, [GADGETS], 2)
    assert changes(conn) == []  # unknown, never lost

    keepa.omitted = set()
    back = run_check(load_settings(), options=FULL_PASS)
    assert (back.missing_from_keepa, back.warnings, changes(conn)) == ([], [], [])
    assert conn.execute(b_state).fetchone() == (True, [GADGETS], 0)


def test_every_pass_keeps_a_check_and_a_rank_point_only_per_change(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    for main_rank, gadgets in ((40, 2), (41, 2), (42, 1)):
        keepa.set_ranks(A, {KITCHEN: main_rank, GADGETS: gadgets})  # the first is the main
        run_check(load_settings(), options=FULL_PASS)
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
    summary = run_check(load_settings(), options=FULL_PASS)
    assert summary.checked == 1
    assert keepa.products_served == 1


def test_250_asins_take_three_keepa_requests_and_one_token_each(keepa: FakeKeepa, conn) -> None:
    asins = [f"B0{n:08d}" for n in range(250)]
    track(conn, *asins)
    for asin in asins:
        keepa.set_ranks(asin, {GADGETS: 5})
    summary = run_check(load_settings(), options=FULL_PASS)
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
    summary = run_check(load_settings(), options=PassOptions(everything=True, asins=(B,)))
    assert summary.checked == 1
    assert conn.execute("SELECT asin FROM asin_current_state").fetchall() == [(B,)]


def test_a_filtered_pass_after_an_interrupted_full_pass_leaves_it_to_resume(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "1")
    track(conn, A, B, C)
    for asin in (A, B, C):
        keepa.set_ranks(asin, {GADGETS: 2})
    interrupted = interrupt_after_first_batch(keepa)
    assert (interrupted.checked, interrupted.unchecked) == (1, [f"{B} (com)", f"{C} (com)"])

    filtered = run_check(load_settings(), options=PassOptions(everything=True, asins=(C,)))
    assert (filtered.checked, filtered.resumed) == (1, False)

    served = keepa.products_served
    resumed = run_check(load_settings(), options=FULL_PASS)
    assert resumed.resumed and resumed.run_id == interrupted.run_id
    assert keepa.products_served - served == 2  # B and C: what the full pass had left
    statuses = conn.execute("SELECT id, status, filtered FROM check_runs ORDER BY id").fetchall()
    assert statuses == [
        (interrupted.run_id, "completed", False),
        (filtered.run_id, "completed", True),
    ]
    assert (
        run_check(load_settings(), options=FULL_PASS).resumed is False
    )  # a new full pass after completion


def interrupt_after_first_batch(keepa: FakeKeepa):
    """A full pass that Keepa fails after its first batch: partial, resumable."""
    original = keepa.answer

    def fail_after_first(path: str, query: dict) -> tuple[int, dict]:
        if "asin" in query and keepa.products_served >= 1:
            return 500, {"error": {"type": "FAIL"}, "tokensLeft": 0}
        return original(path, query)

    keepa.answer = fail_after_first  # type: ignore[method-assign]
    try:
        return run_check(load_settings(), options=FULL_PASS)
    finally:
        keepa.answer = original  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:s3cret@db.example.test:6543/postgres",
        "postgresql://app:s3cret@db.example.test/postgres?port=6543",
        "host=db.example.test port=6543 dbname=postgres user=app password=s3cret",
        "postgresql://app:s3cret@one.example.test:5432,two.example.test:6543/postgres",
        "host=one.example.test,two.example.test port=5432,6543 dbname=postgres",
        "postgresql://app:s3cret@db.example.test:5432/postgres?pgbouncer=true",
    ],
)
def test_check_refuses_a_transaction_pooler_url_naming_the_session_pooler(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(app, ["check", "--all"])
    assert result.exit_code == 2
    assert "session pooler" in result.output and "port 5432" in result.output
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw@db.example.test:5432/postgres",
        "postgresql://app:pw@db.example.test/postgres",
        "host=db.example.test port=5432 dbname=postgres",
        "postgresql://app:pw@db.example.test:65430/postgres",
    ],
)
def test_a_session_mode_url_is_not_taken_for_the_transaction_pooler(url: str) -> None:
    assert not db.uses_transaction_pooler(url)


def test_a_keepa_answer_trickling_in_cannot_hold_the_pass_past_its_deadline(
    env: dict[str, str],
    conn,
    trickling_keepa: TricklingKeepa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """API_TIMEOUT_SECONDS far away, the run deadline (a minute before RUN_DEADLINE_MINUTES)
    a couple of seconds away: the trickle is cut there, the ASIN left for the next run."""
    monkeypatch.setenv("KEEPA_API_URL", trickling_keepa.url)
    monkeypatch.setenv("API_TIMEOUT_SECONDS", "600")
    monkeypatch.setenv("RUN_DEADLINE_MINUTES", str((60 + 2) / 60))
    track(conn, A)
    summary = run_check(load_settings(), options=FULL_PASS)
    assert summary.unchecked == [f"{A} (com)"] and summary.exit_code == 1
    assert summary.stopped_because is not None and "deadline" in summary.stopped_because


def test_a_dry_run_writes_and_sends_nothing(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 2})
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(A, {GADGETS: 1})
    summary = run_check(load_settings(), options=PassOptions(everything=True, dry_run=True))
    assert [(c.asin, c.kind) for c in summary.changes] == [(A, "gained")]
    assert changes(conn) == []
    assert conn.execute("SELECT count(*) FROM history_checks").fetchone() == (1,)


def test_a_dry_run_also_looks_at_asins_never_checked(keepa: FakeKeepa, conn) -> None:
    track(conn, A)
    keepa.set_ranks(A, {GADGETS: 1})
    summary = run_check(load_settings(), options=PassOptions(everything=True, dry_run=True))
    assert (summary.checked, summary.baselines) == (1, 1)
    assert conn.execute("SELECT count(*) FROM asin_current_state").fetchone() == (0,)


def test_a_watch_list_longer_than_a_work_page_is_fetched_once_per_asin(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "2")  # work pages of 2 x 50 = 100 ASINs
    in_com = [f"B0{index:08d}" for index in range(230)]
    in_de = [f"B1{index:08d}" for index in range(30)]
    track(conn, *in_com)
    asin_store.add_tracked(conn, asins=in_de, marketplace="de", client=None)
    for asin in in_com:
        keepa.set_ranks(asin, {GADGETS: 5})
    for asin in in_de:
        keepa.set_ranks(asin, {GADGETS: 5}, marketplace="de")

    summary = run_check(load_settings(), options=FULL_PASS)
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
        result = CliRunner().invoke(app, ["check", "--all"])
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
    result = CliRunner().invoke(app, ["check", "--all", "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    # Why it stopped first: a failure then names its cause (it once listed A too, under load).
    assert summary["stopped_because"].startswith("Keepa is out of tokens"), summary
    assert summary["unchecked"] == ["B0BBBBBBBB (com)"], (summary, result.stderr)

    keepa.answer = original  # type: ignore[method-assign]
    resumed = run_check(load_settings(), options=FULL_PASS)
    assert resumed.resumed and resumed.checked == 1


def test_check_json_prints_the_whole_summary_and_only_it(
    keepa: FakeKeepa, conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_LOOKUP", "true")
    track(conn, A)
    now = datetime.now(UTC)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 2})
    keepa.options[A] = {"last_update": now - timedelta(minutes=10)}
    run_check(load_settings(), options=FULL_PASS)
    keepa.set_ranks(A, {KITCHEN: 40, GADGETS: 1})
    keepa.options[A] = {"last_update": now - timedelta(minutes=1)}  # Keepa refreshed it
    result = CliRunner().invoke(app, ["check", "--all", "--json"])
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
        "lock_holder": None,
        "stale_lock_ended": None,
        "dry_run": False,
        "asins_to_check": 1,
        "asins_due": 0,  # --all: every ASIN, due or not
        "asins_deferred": 0,
        "past_ceiling": 0,
        "waiting_for_keepa": 0,
        "run_budget": None,
        "checked": 1,
        "unavailable": 0,
        "missing_from_keepa": [],
        "now_unknown": [],
        "baselines": 0,
        "gained": 1,
        "lost": 0,
        "entered_top_n": 0,
        "left_top_n": 0,
        "new_holder": 0,
        "list_top_n": 0,
        "alerts_queued": 1,
        "alerts_sent": 0,
        "alerts_printed": 1,
        "alerts_refused": 0,
        "alerts_expired": 0,
        "alerts_recovered": 0,
        "alerts_folded_into_flapping": 0,
        "alerts_undelivered": 0,
        "alerts_updated": 0,
        "charts_posted": 0,
        "alerts_refused_because": [],
        "holders_looked_up": 0,  # null when KEEPA_BESTSELLERS_LOOKUP is off
        "tokens_needed": 1,
        "tokens_available": keepa.tokens_left + 1,
        "tokens_used": 1,
        "categories_named": 0,
        "watched_categories_checked": 0,
        "watched_categories_stretched": 0,
        "listed_products_named": 0,
        "stale": 0,
        "fresh_answers": 1,
        "cached_answers": 0,
        "live_checks": 0,
        "variation_parents": [],
        "invalid": [],
        "stopped_because": None,
        "interrupted": False,
        "unchecked": [],
        "warnings": [],
        "conditions": [],
        "exit_code": 0,
    }
