"""Keepa as it really answers (fakes/KEEPA_SHAPES.md): every badge named, the main rank
found, images read, freshness told, variation parents and invalid ASINs explained, gzip
without a header decoded, and the smallest `days` that loses no current rank."""

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from pytest_httpx import HTTPXMock
from typer.testing import CliRunner

from bestseller_cli.check.context import PassOptions
from bestseller_cli.check.run import run_check
from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.cli.app import app
from bestseller_cli.config import load_settings
from bestseller_cli.errors import KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.keepa.payload import category_names, parse_product
from bestseller_cli.models import Printed
from bestseller_cli.rules.likelihood import SEED_DAYS
from bestseller_cli.store import asin_store
from fakes import KEEPA_TEST_KEY
from fakes.keepa_payloads import (
    BROWSE_LEAF,
    CSV_LENGTH,
    envelope,
    product,
    trim_to_days,
    unknown_product,
    variation_parent,
)
from fakes.keepa_server import FakeKeepa
from tests.check.test_alert_story import text_of
from tests.conftest import FULL_PASS

ELECTRONICS, ACCESSORIES, HEADPHONES = 172282, 281407, 3015427011
OURS, CHILD_1, CHILD_2, PARENT, NOBODY = (
    "B0OURS0001",
    "B0CHILD001",
    "B0CHILD002",
    "B0PARENT01",
    "B0NOBODY01",
)


def track(conn: psycopg.Connection, *asins: str) -> None:
    asin_store.add_tracked(conn, asins=list(asins), marketplace="com", client=None)


def check(printed: list[str] | None = None) -> CheckSummary:
    def show(message: Printed) -> None:
        if printed is not None:
            printed.append(text_of(message))

    return run_check(load_settings(), options=FULL_PASS, show=show)


def keepa_client() -> KeepaClient:
    return KeepaClient(
        api_key=KEEPA_TEST_KEY,
        base_url="https://keepa.test",
        timeout=30,
        max_retries=3,
        retry_delay=0,
        max_token_wait_seconds=300,
        history_days=1,
    )


def first_pass(keepa: FakeKeepa, conn: psycopg.Connection, ranks: dict[int, int]) -> None:
    """OURS tracked and checked once (the baseline) with these ranks."""
    track(conn, OURS)
    keepa.set_ranks(OURS, ranks)
    check()


def listed(asin: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["asins", "list", "--json"])
    assert result.exit_code == 0, result.output
    return next(row for row in json.loads(result.stdout) if row["asin"] == asin)


# The fakes are as untidy as Keepa


def test_the_fake_product_has_keepas_real_untidiness() -> None:
    raw = product(OURS, {ELECTRONICS: 900, HEADPHONES: 1})
    tree_ids = [node["catId"] for node in raw["categoryTree"]]
    assert HEADPHONES in map(int, raw["salesRanks"]) and HEADPHONES not in tree_ids
    assert set(raw["categories"]) != {int(key) for key in raw["salesRanks"]}
    assert len(raw["csv"]) == CSV_LENGTH and raw["stats"]["current"][3] == 900
    assert "images" in raw and "imagesCSV" not in raw
    first_point = raw["salesRanks"][str(HEADPHONES)][0]
    assert raw["lastUpdate"] - first_point >= 2 * 365 * 24 * 60  # years of history
    assert unknown_product(NOBODY)["productType"] == 4
    assert unknown_product(NOBODY)["lastUpdate"] and unknown_product(NOBODY)["trackingSince"]


# 1. Unnamed categories: /category, cached, once


def test_a_dry_run_buys_no_category_name_as_it_could_not_keep_it(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    first_pass(keepa, conn, {ELECTRONICS: 900})
    keepa.set_ranks(OURS, {ELECTRONICS: 880, HEADPHONES: 1})

    dry = run_check(load_settings(), options=PassOptions(everything=True, dry_run=True))

    assert keepa.sent_to("category") == []
    [change] = dry.changes
    assert (change.category_id, change.category_name) == (HEADPHONES, None)
    assert "1 ranked categories are shown by id: a dry run looks no name up" in dry.warnings[0]
    assert (dry.categories_named, dry.tokens_used) == (0, 1)
    [gained] = check().changes  # the real pass names it, once, and keeps the name
    assert gained.category_name == "Headphone Accessories"
    assert len(keepa.sent_to("category")) == 1


def test_a_badge_in_a_category_missing_from_the_tree_is_named_after_one_lookup(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    track(conn, OURS)
    keepa.set_ranks(OURS, {ELECTRONICS: 900})
    check()  # baseline: the only ranked category is in the categoryTree
    assert keepa.sent_to("category") == []

    keepa.set_ranks(OURS, {ELECTRONICS: 880, HEADPHONES: 1})
    printed: list[str] = []
    gained = check(printed)

    [lookup] = keepa.sent_to("category")
    assert lookup["category"] == [str(HEADPHONES)]
    [alert] = printed
    assert "Headphone Accessories" in alert and f"category {HEADPHONES}" not in alert
    assert gained.categories_named == 1
    usage = conn.execute(
        "SELECT count(*), sum(tokens_consumed) FROM api_usage_log WHERE endpoint = 'category'"
    ).fetchone()
    assert usage == (1, 1)
    cached = conn.execute(
        "SELECT category_id, name, source FROM category_names ORDER BY category_id"
    ).fetchall()
    assert (HEADPHONES, "Headphone Accessories", "lookup") in cached
    assert (ELECTRONICS, "Electronics", "tree") in cached

    keepa.set_ranks(OURS, {ELECTRONICS: 870, HEADPHONES: 2})
    printed.clear()
    check(printed)
    assert len(keepa.sent_to("category")) == 1  # the next pass asks for nothing
    assert "Headphone Accessories" in printed[0]
    assert listed(OURS)["category_ranks"] == [
        {"category_id": ELECTRONICS, "name": "Electronics", "rank": 870},
        {"category_id": HEADPHONES, "name": "Headphone Accessories", "rank": 2},
    ]


def test_a_failed_lookup_never_fails_or_delays_the_alert_it_shows_the_id(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    first_pass(keepa, conn, {ELECTRONICS: 900})
    keepa.failing_endpoints["category"] = 500
    keepa.set_ranks(OURS, {ELECTRONICS: 880, HEADPHONES: 1})
    printed: list[str] = []

    summary = check(printed)

    assert summary.exit_code == 0 and summary.alerts_printed == 1
    assert f"category {HEADPHONES}" in printed[0]
    assert len(keepa.sent_to("category")) == 1  # one attempt, no retries, no waiting
    kinds = conn.execute("SELECT kind FROM error_log WHERE source = 'keepa'").fetchall()
    assert ("category_lookup_failed",) in kinds
    assert any("shown by id" in warning for warning in summary.warnings)


def test_a_spent_category_budget_asks_nothing_and_says_so(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_CATEGORY_TOKEN_BUDGET", "0")
    track(conn, OURS)
    keepa.set_ranks(OURS, {ELECTRONICS: 900, HEADPHONES: 1})

    summary = check()

    assert keepa.sent_to("category") == []
    assert any("KEEPA_CATEGORY_TOKEN_BUDGET of 0" in warning for warning in summary.warnings)
    assert listed(OURS)["badges"] == [str(HEADPHONES)]


def test_ten_ids_go_in_one_lookup_and_stale_names_are_asked_again_after_a_month(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    track(conn, OURS)
    subcategories = [50_000 + n for n in range(12)]
    keepa.set_ranks(OURS, {ELECTRONICS: 900, **dict.fromkeys(subcategories, 5)})
    check()
    asked = [query["category"][0].split(",") for query in keepa.sent_to("category")]
    assert sorted(len(ids) for ids in asked) == [2, 10]

    check()
    assert len(keepa.sent_to("category")) == 2  # all fresh: nothing asked
    conn.execute(
        "UPDATE category_names SET fetched_at = now() - interval '31 days' WHERE category_id = %s",
        (subcategories[0],),
    )
    check()
    assert keepa.sent_to("category")[-1]["category"] == [str(subcategories[0])]


def test_keepa_not_knowing_a_category_leaves_its_id_and_it_is_not_asked_again(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    keepa.unknown_categories.add(HEADPHONES)
    first_pass(keepa, conn, {ELECTRONICS: 900, HEADPHONES: 1})
    assert listed(OURS)["badges"] == [str(HEADPHONES)]
    check()
    assert len(keepa.sent_to("category")) == 1  # Keepa had no name: not asked again


def test_a_tree_node_without_a_name_leaves_the_other_names_read() -> None:
    raw = product(OURS, {ELECTRONICS: 900, HEADPHONES: 1}, tree=[ELECTRONICS, HEADPHONES])
    raw["categoryTree"][0]["name"] = None
    snapshot = parse_product(raw, marketplace="com")
    assert snapshot.category_ranks[ELECTRONICS].name is None
    assert snapshot.category_ranks[HEADPHONES].name == "Headphone Accessories"


def test_a_category_lookup_is_one_short_attempt(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("Keepa is slow"))
    with keepa_client() as client, pytest.raises(KeepaError):
        client.category_names([HEADPHONES], marketplace="com")
    [request] = httpx_mock.get_requests()  # no retry, although max_retries is 3
    assert request.extensions["timeout"]["read"] == 5.0  # not the client's 30 s


# 2. Images, 3. main rank, 4. freshness: as `asins list --json` shows them


def test_asins_list_shows_what_keepa_really_sent(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    track(conn, OURS)
    keepa.set_ranks(OURS, {ELECTRONICS: 4321, HEADPHONES: 1})
    keepa.options[OURS] = {
        "main_category": -1,
        "last_update": now - timedelta(hours=3),
        "rank_since": now - timedelta(days=90),
    }
    check()

    row = listed(OURS)

    assert row["main_rank"] == 4321 and row["main_category_id"] == ELECTRONICS
    assert row["image_url"] == f"https://m.media-amazon.com/images/I/{OURS}-main.jpg"
    assert row["badges"] == ["Headphone Accessories"]
    assert (row["available"], row["product_type"], row["product_kind"]) == (True, 0, "standard")
    seen = datetime.fromisoformat(row["keepa_updated_at"])
    changed = datetime.fromisoformat(row["ranks_changed_at"])
    assert timedelta(hours=2, minutes=58) < now - seen < timedelta(hours=3, minutes=2)
    assert timedelta(days=89) < now - changed < timedelta(days=91)
    assert 2.9 < row["data_age_hours"] < 3.2


def test_images_are_read_from_images_and_from_the_older_images_csv() -> None:
    url = f"https://m.media-amazon.com/images/I/{OURS}-main.jpg"
    current = parse_product(product(OURS, {HEADPHONES: 3}), marketplace="com")
    older = parse_product(product(OURS, {HEADPHONES: 3}, legacy_images=True), marketplace="com")
    assert current.image_url == url and older.image_url == url


def test_a_main_rank_of_minus_one_reference_is_the_root_categorys_rank() -> None:
    raw = product(OURS, {ELECTRONICS: 4321, HEADPHONES: 1}, main_category=-1)
    snapshot = parse_product(raw, marketplace="com")
    assert (snapshot.main_category_id, snapshot.main_rank) == (ELECTRONICS, 4321)


def test_a_main_category_without_a_sales_ranks_series_takes_its_rank_from_csv_sales() -> None:
    raw = product(OURS, {ELECTRONICS: 4321, HEADPHONES: 1}, main_category=ELECTRONICS)
    del raw["salesRanks"][str(ELECTRONICS)]  # csv[3] is the main category's rank history
    snapshot = parse_product(raw, marketplace="com")
    assert (snapshot.main_category_id, snapshot.main_rank) == (ELECTRONICS, 4321)


def test_an_alert_says_when_keepa_saw_the_product_if_over_an_hour_before_the_pass(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_STALE_HOURS", "2")
    now = datetime.now(UTC)
    track(conn, OURS, CHILD_1)
    keepa.set_ranks(OURS, {ELECTRONICS: 900, HEADPHONES: 2})
    keepa.set_ranks(CHILD_1, {ELECTRONICS: 901, ACCESSORIES: 2})
    check()
    keepa.set_ranks(OURS, {ELECTRONICS: 880, HEADPHONES: 1})
    keepa.set_ranks(CHILD_1, {ELECTRONICS: 881, ACCESSORIES: 1})
    keepa.options[OURS] = {"last_update": now - timedelta(hours=5)}
    printed: list[str] = []

    summary = check(printed)

    stale = next(text for text in printed if OURS in text)
    fresh = next(text for text in printed if CHILD_1 in text)
    assert "Keepa last saw this product" in stale and "before this check" in stale
    assert "Keepa last saw this product" not in fresh
    assert summary.stale == 1


def test_keepas_update_parameter_is_off_by_default_and_its_tokens_are_counted(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_pass(keepa, conn, {ELECTRONICS: 900})
    assert "update" not in keepa.sent_to("product")[-1]

    monkeypatch.setenv("KEEPA_UPDATE_HOURS", "0")
    summary = check()

    assert keepa.sent_to("product")[-1]["update"] == ["0"]
    assert summary.tokens_used == 2  # tokensConsumed above the product count, as Keepa bills
    last = conn.execute(
        "SELECT tokens_consumed, asin_count FROM api_usage_log WHERE endpoint = 'product'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert last == (2, 1)


# 5. Product types: parents and invalid ASINs said for what they are


def test_a_variation_parent_is_named_with_the_children_to_track_instead(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    keepa.raw_products[("com", PARENT)] = variation_parent(PARENT, [CHILD_1, CHILD_2])
    runner = CliRunner()
    added = runner.invoke(app, ["asins", "add", PARENT, "--verify"])
    assert added.exit_code == 0
    assert "variation parent" in added.output and f"{CHILD_1}, {CHILD_2}" in added.output

    result = runner.invoke(app, ["check"])
    assert "variation parent" in result.output and CHILD_1 in result.output

    row = listed(PARENT)
    assert (row["available"], row["product_type"], row["product_kind"]) == (
        False,
        5,
        "variation parent",
    )
    assert row["variation_asins"] == [CHILD_1, CHILD_2]
    assert row["title"] == f"Parent {PARENT}"
    again = runner.invoke(app, ["asins", "add", PARENT])  # known from the pass: no token
    assert "track them instead" in again.output
    assert len(keepa.sent_to("product")) == 2  # --verify and the pass
    doctor = " ".join(runner.invoke(app, ["doctor"]).output.split())
    assert PARENT in doctor and "variation" in doctor


def test_an_unknown_asin_is_reported_as_invalid(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    track(conn, NOBODY)
    summary = check()
    assert summary.unavailable == 1
    [note] = summary.invalid
    assert NOBODY in note and "invalid" in note
    row = listed(NOBODY)
    assert (row["available"], row["product_kind"]) == (False, "invalid")
    assert row["keepa_updated_at"] is not None  # Keepa sets lastUpdate even then


@pytest.mark.parametrize("product_type", [1, 2, 3])
def test_downloadable_ebook_and_unaccessible_products_with_ranks_are_read(
    product_type: int,
) -> None:
    raw = product(OURS, {HEADPHONES: 1}, product_type=product_type, price_cents=None)
    snapshot = parse_product(raw, marketplace="com")
    assert snapshot.available and snapshot.product_type == product_type
    assert snapshot.category_ranks[HEADPHONES].rank == 1


def test_an_empty_title_is_no_title_not_an_unavailable_product() -> None:
    snapshot = parse_product(product(OURS, {HEADPHONES: 1}, title=""), marketplace="com")
    assert snapshot.available and snapshot.title is None


def test_titles_and_category_names_are_kept_as_keepa_sent_them_minus_control_characters() -> None:
    raw = product(
        OURS,
        {HEADPHONES: 1},
        title="&lt;img src=x onerror=alert(1)&gt; <b>Pads</b>\x00 \x1b[2J\x07\u009bx\nTwo",
    )
    raw["categoryTree"] = [{"catId": HEADPHONES, "name": '=HYPERLINK("http://evil")\x1b]8;;'}]
    raw["brand"] = "Acme\x7f\r\n"
    snapshot = parse_product(raw, marketplace="com")
    # Entities are not decoded, nor tags stripped: `&lt;img` stays text, never becomes a tag.
    assert snapshot.title == "&lt;img src=x onerror=alert(1)&gt; <b>Pads</b> [2Jx Two"
    assert snapshot.category_ranks[HEADPHONES].name == '=HYPERLINK("http://evil")]8;;'
    assert snapshot.brand == "Acme"


def test_category_names_from_keepa_lose_their_control_characters() -> None:
    answer = {
        "categories": {str(HEADPHONES): {"name": " Pads\x1b[31m\x00 "}, "7": {"name": "\x07"}}
    }
    assert category_names(answer).names == {HEADPHONES: "Pads[31m"}


# 6. Gzip without a Content-Encoding header


def test_a_gzip_body_without_content_encoding_is_decoded(httpx_mock: HTTPXMock) -> None:
    body = envelope([product(OURS, {HEADPHONES: 1})])
    httpx_mock.add_response(
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Type": "application/json"},
    )
    with keepa_client() as client:
        [snapshot] = client.fetch([OURS], marketplace="com")
    assert snapshot.category_ranks[HEADPHONES].rank == 1


def test_a_check_reads_gzip_without_the_header_over_real_http(
    keepa_server: FakeKeepa, env: dict[str, str], conn: psycopg.Connection, monkeypatch
) -> None:
    keepa_server.gzip_without_header = True
    monkeypatch.setenv("KEEPA_API_URL", keepa_server.url)
    track(conn, OURS)
    keepa_server.set_ranks(OURS, {ELECTRONICS: 900, HEADPHONES: 1})
    summary = check()
    assert (summary.checked, summary.unavailable, summary.exit_code) == (1, 0, 0)
    assert listed(OURS)["badges"] == ["Headphone Accessories"]


# 7. /bestsellers: an empty list costs nothing


def test_a_category_without_a_best_seller_list_costs_no_tokens(
    keepa: FakeKeepa, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPA_BESTSELLERS_LOOKUP", "true")
    first_pass(keepa, conn, {ELECTRONICS: 900, HEADPHONES: 1})
    keepa.set_ranks(OURS, {ELECTRONICS: 900, HEADPHONES: 3})
    printed: list[str] = []
    check(printed)
    [request] = keepa.sent_to("bestsellers")
    assert "range" not in request and request["sublist"] == ["1"]
    cost = conn.execute(
        "SELECT tokens_consumed FROM api_usage_log WHERE endpoint = 'bestsellers'"
    ).fetchone()
    assert cost == (0,)
    assert "not known yet" in printed[0]


# 8. days: the smallest window keeps every current rank


def test_a_one_day_window_keeps_every_current_value_of_a_multi_year_history() -> None:
    now = datetime.now(UTC)
    raw = product(
        OURS,
        {ELECTRONICS: [900, 880], ACCESSORIES: 12, HEADPHONES: [3, 2, 1]},
        now=now,
        rank_since=now - timedelta(days=200),  # unchanged for months
    )
    full = parse_product(raw, marketplace="com")
    trimmed_raw = trim_to_days(raw, 1, now=now)
    trimmed = parse_product(trimmed_raw, marketplace="com")

    assert trimmed.category_ranks == full.category_ranks
    assert (trimmed.main_rank, trimmed.price_cents, trimmed.rating, trimmed.review_count) == (
        full.main_rank,
        full.price_cents,
        full.rating,
        full.review_count,
    )
    assert trimmed.ranks_changed_at == full.ranks_changed_at
    assert len(json.dumps(trimmed_raw)) < len(json.dumps(raw))
    assert all(len(series) == 2 for series in trimmed_raw["salesRanks"].values())


def test_a_pass_asks_keepa_for_one_day_of_history_by_default_and_a_first_check_for_a_week(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    """A first check's series seed the product's chance of a #1 crossing (SEED_DAYS)."""
    first_pass(keepa, conn, {ELECTRONICS: 900, HEADPHONES: 1})
    [request] = keepa.sent_to("product")
    assert request["days"] == [str(SEED_DAYS)] and "history" not in request
    assert listed(OURS)["badges"] == ["Headphone Accessories"]
    check()
    [_, again] = keepa.sent_to("product")
    assert again["days"] == ["1"] and "history" not in again


def test_only_ranked_categories_of_the_tree_are_cached(
    keepa: FakeKeepa, conn: psycopg.Connection
) -> None:
    first_pass(keepa, conn, {ELECTRONICS: 900})
    names = dict(conn.execute("SELECT category_id, source FROM category_names").fetchall())
    assert names == {ELECTRONICS: "tree"}
    assert BROWSE_LEAF not in names  # on the browse path, but never ranked
