"""One model per concept, stored and loaded by field name: a notification Rule, a Change and
a product's observation (ProductSnapshot). Every field set to a value other than its default
must come back from the database unchanged, so a field added to a model without its column
(or a column list that forgot it) fails here."""

from dataclasses import fields, replace
from datetime import UTC, datetime, time, timedelta

import psycopg
from psycopg.rows import dict_row

from bestseller_cli.models import ApiCall, CategoryRank, Change, ProductSnapshot, StoredState
from bestseller_cli.rules.batch_diff import BatchOutcome, ObservedProduct
from bestseller_cli.rules.likelihood import Chance
from bestseller_cli.rules.routing import Delivery, Rule
from bestseller_cli.rules.schedule import NextCheck
from bestseller_cli.store import (
    asin_store,
    check_store,
    client_store,
    log_store,
    outbox_store,
    report_queries,
    run_store,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ASIN = "B0STORED01"


def every_option_set(client_id: int) -> Rule:
    """A rule whose every option differs from the default."""
    return Rule(
        client_id=client_id,
        channel="C0STORED01",
        notify_gained=False,
        notify_lost=False,
        max_main_rank=500,
        ignored_category_ids=(30, 10),
        delivery_mode="daily",
        daily_hour=9,
        quiet_start=time(22),
        quiet_end=time(7),
        timezone="Europe/Berlin",
        renotify_window_minutes=30,
        top_n=3,
        top_n_main=True,
        webhook_url="https://hooks.example.com/catch/secret",
        active=True,
    )


def test_every_rule_option_is_saved_and_loaded_back_by_its_field_name(
    conn: psycopg.Connection,
) -> None:
    client_store.add_client(conn, name="acme")
    owner = client_store.client_id(conn, "acme")
    assert owner is not None
    rule = every_option_set(owner)
    defaults = {option.name: option.default for option in fields(Rule)}
    unset = [name for name, value in defaults.items() if getattr(rule, name) == value]
    assert unset == ["active", "id", "created_at"], "set every new option in every_option_set"

    assert client_store.save_rule(conn, rule) is True
    assert client_store.get_rule(conn, client="acme", channel="C0STORED01") == rule
    [listed] = client_store.get_rules(conn, client="acme")
    assert listed == rule and listed.created_at is not None
    rules, _ = client_store.load_rules(conn)
    assert rules == {owner: [rule]}


def test_the_global_defaults_load_as_a_rule_without_a_client(conn: psycopg.Connection) -> None:
    assert client_store.load_rules(conn) == ({}, Rule())
    client_store.set_global_setting(conn, key="notify_lost", value=False)
    client_store.set_global_setting(conn, key="slack_channel_id", value="C0DEFAULT1")
    _, defaults = client_store.load_rules(conn)
    assert defaults == Rule(channel="C0DEFAULT1", notify_lost=False)


def observed_product() -> ObservedProduct:
    """A snapshot whose every stored field is set, and the state it led to."""
    ranks = {7: CategoryRank(category_id=7, name="Tongs", rank=1)}
    snapshot = ProductSnapshot(
        asin=ASIN,
        marketplace="com",
        product_type=0,
        variation_asins=["B0STORED02"],
        title="Tongs",
        brand="Acme",
        image_url="https://m.media-amazon.com/images/I/tongs.jpg",
        last_update=NOW - timedelta(hours=1),
        ranks_changed_at=NOW - timedelta(hours=2),
        main_category_id=1055398,
        main_rank=412,
        category_ranks=ranks,
        price_cents=1999,
        rating=4.5,
        review_count=321,
    )
    state = StoredState(category_ranks=ranks, badges={7: NOW}, first_seen_at=NOW)
    return ObservedProduct(snapshot=snapshot, state=state, observed_at=NOW)


def a_change() -> Change:
    return Change(
        asin=ASIN,
        marketplace="com",
        category_id=7,
        category_name="Tongs",
        kind="gained",
        rank_before=2,
        rank_after=1,
        main_rank=412,
        title="Tongs",
        detected_at=NOW,
        keepa_seen_at=NOW - timedelta(hours=1),
    )


def write(conn: psycopg.Connection, *, changes: list[Change]) -> None:
    run_id, _ = run_store.start_run(conn, resume_within=timedelta(0))
    deliveries = [
        Delivery(change=change, client_id=None, channel="C0STORED01", deliver_after=NOW)
        for change in changes
    ]
    outcome = BatchOutcome(
        marketplace="com", observed=[observed_product()], changes=changes, deliveries=deliveries
    )
    check_store.write_batch(conn, outcome, run_id=run_id, calls=[], token_cost_usd=0.0)


def test_every_stored_snapshot_field_lands_in_its_column(conn: psycopg.Connection) -> None:
    write(conn, changes=[])
    stored = observed_product().snapshot.model_dump(by_alias=True)
    assert "missing" not in stored and "category_ranks" not in stored  # not columns as such
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM asin_current_state").fetchone()
    assert row is not None
    assert {column: row[column] for column in stored} == stored
    assert row["badge_category_ids"] == [7] and row["first_seen_at"] == NOW


def test_a_change_is_written_and_read_back_whole_by_the_outbox_and_the_report(
    conn: psycopg.Connection,
) -> None:
    change = a_change()
    write(conn, changes=[change])
    [item] = outbox_store.due(conn, now=NOW)
    assert item.change == change
    read = report_queries.changes(conn, since=NOW, until=NOW + timedelta(1), client=None)
    assert read == [change]


def test_every_keepa_call_field_lands_in_api_usage_log_with_its_cost(
    conn: psycopg.Connection,
) -> None:
    call = ApiCall(
        endpoint="product",
        marketplace="de",
        asin_count=100,
        http_status=200,
        tokens_consumed=100,
        tokens_left=1900,
        refill_in_ms=12000,
        refill_rate=20,
        duration_ms=1500,
        called_at=NOW,
    )
    log_store.record_api_calls(conn, [call], run_id=None, token_cost_usd=0.002)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM api_usage_log").fetchone()
    assert row is not None
    assert {name: row[name] for name in ApiCall.model_fields} == call.model_dump()
    assert float(row["estimated_cost_usd"]) == 0.2


def test_the_chance_is_stored_and_read_back_by_the_next_batch_and_the_schedule(
    conn: psycopg.Connection,
) -> None:
    asin_store.add_tracked(conn, asins=[ASIN], marketplace="com", client=None)
    chance = Chance(per_hour=0.25, lately=0.125, why="3 crossings/day lately, best #1 now")
    product = replace(
        observed_product(),
        next_check=NextCheck(timedelta(minutes=15), "holds #1 in 1 category"),
        chance=chance,
    )
    run_id, _ = run_store.start_run(conn, resume_within=timedelta(0))
    outcome = BatchOutcome(marketplace="com", observed=[product])
    check_store.write_batch(conn, outcome, run_id=run_id, calls=[], token_cost_usd=0.0)
    row = conn.execute(
        "SELECT chance_per_hour, crossing_rate, chance_reason FROM asin_current_state"
    ).fetchone()
    assert row == (0.25, 0.125, chance.why)
    batch = check_store.load_batch(conn, marketplace="com", asins=[ASIN], category_ids=[])
    entry = batch.asins[ASIN]
    assert (entry.crossing_rate, entry.keepa_updated_at) == (0.125, NOW - timedelta(hours=1))
    later = NOW + timedelta(minutes=15)
    selection = run_store.WorkSelection(run_id=None)
    [candidate] = run_store.due_candidates(conn, selection, horizon=later)
    assert candidate.keepa_updated_at == NOW - timedelta(hours=1)
    assert candidate.chance_per_hour == 0.25
