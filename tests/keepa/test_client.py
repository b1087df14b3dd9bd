"""The Keepa client: batching, tokens, retries, parsing, and never leaking the key."""

import logging
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from pytest_httpx import HTTPXMock

from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.ahead import Fetched, fetch_ahead
from bestseller_cli.keepa.answers import KeepaOutOfTokens
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.keepa.payload import TokenStatus, parse_product
from bestseller_cli.models import ApiCall, CategoryRank, ErrorEvent
from bestseller_cli.store import log_store
from fakes import KEEPA_TEST_KEY
from fakes.keepa_payloads import envelope, not_enough_tokens, product, unknown_product
from fakes.trickle_server import TricklingKeepa

BASE = "https://keepa.test"
HEADPHONES, ACCESSORIES, ELECTRONICS = 3015427011, 281407, 172282
A, B, C = "B0A0000001", "B0B0000002", "B0C0000003"


@dataclass
class Reported:
    """What the client handed to its callbacks, and how long it asked to sleep."""

    calls: list[ApiCall] = field(default_factory=list)
    errors: list[ErrorEvent] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


@pytest.fixture
def reported() -> Reported:
    return Reported()


@pytest.fixture
def make_client(reported: Reported) -> Callable[..., KeepaClient]:
    def make(**overrides: Any) -> KeepaClient:
        options: dict[str, Any] = {
            "api_key": KEEPA_TEST_KEY,
            "base_url": BASE,
            "timeout": 5.0,
            "max_retries": 3,
            "retry_delay": 0.0,
            "max_token_wait_seconds": 300.0,
            "history_days": 30,
            "on_call": reported.calls.append,
            "on_error": reported.errors.append,
            "sleep": reported.sleeps.append,
        }
        return KeepaClient(**{**options, **overrides})

    return make


def answer_with_products(request: httpx.Request) -> httpx.Response:
    """Keepa answering every asked ASIN: rank 1 in Headphone Accessories."""
    asins = request.url.params["asin"].split(",")
    ranks = {ELECTRONICS: 2345, HEADPHONES: 1}
    return httpx.Response(200, json=envelope([product(asin, ranks) for asin in asins]))


def products_response(*raw: dict[str, Any]) -> dict[str, Any]:
    return envelope(list(raw))


# Batching and request shape


def test_a_batch_of_250_asins_takes_three_requests(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_callback(answer_with_products, is_reusable=True)
    asins = [f"B{n:09d}" for n in range(250)]

    with make_client() as client:
        batches = list(ahead_of(client, asins, batch_size=100, ahead=0))

    assert [len(fetched.asins) for fetched in batches] == [100, 100, 50]
    requests = httpx_mock.get_requests()
    assert [len(r.url.params["asin"].split(",")) for r in requests] == [100, 100, 50]
    snapshots = [snapshot for fetched in batches for snapshot in fetched.products or []]
    assert [snapshot.asin for snapshot in snapshots] == asins
    assert all(snapshot.available for snapshot in snapshots)
    assert [call.asin_count for call in reported.calls] == [100, 100, 50]
    assert [call.tokens_consumed for call in reported.calls] == [100, 100, 50]


def ahead_of(
    client: KeepaClient,
    asins: list[str],
    *,
    batch_size: int,
    ahead: int,
    may_request: Callable[[], bool] = lambda: True,
    tokens_left: int | None = None,
) -> Iterator[Fetched]:
    return fetch_ahead(
        client,
        marketplace="com",
        asins=asins,
        batch_size=batch_size,
        ahead=ahead,
        may_request=may_request,
        tokens_left=lambda: tokens_left,
    )


@pytest.mark.parametrize("ahead", [0, 1, 2])
def test_no_more_than_the_requests_ahead_are_made_before_a_batch_is_processed(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], ahead: int
) -> None:
    httpx_mock.add_callback(answer_with_products, is_reusable=True)
    asins = [f"B{n:09d}" for n in range(60)]

    with make_client() as client:
        batches = ahead_of(client, asins, batch_size=10, ahead=ahead)
        first = next(batches)
        batches.close()  # waits for the requests already made
        requested = len(httpx_mock.get_requests())

    assert first.asins == asins[:10]
    assert requested == 1 + ahead


def test_no_request_goes_ahead_of_the_tokens_keepa_reported(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_callback(answer_with_products, is_reusable=True)
    asins = [f"B{n:09d}" for n in range(30)]

    with make_client() as client:
        batches = ahead_of(client, asins, batch_size=10, ahead=2, tokens_left=5)
        next(batches)
        batches.close()
        requested = len(httpx_mock.get_requests())

    assert requested == 1


def test_once_told_to_stop_no_request_is_made_and_answers_paid_for_are_handed_over(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_callback(answer_with_products, is_reusable=True)
    asins = [f"B{n:09d}" for n in range(50)]
    allowed = iter([True, True, True])

    def stop_after_three() -> bool:
        return next(allowed, False)

    with make_client() as client:
        batches = list(
            ahead_of(client, asins, batch_size=10, ahead=2, may_request=stop_after_three)
        )

    assert [fetched.asins for fetched in batches] == [asins[:10], asins[10:20], asins[20:30]]
    assert len(httpx_mock.get_requests()) == 3


def test_a_request_asks_for_trimmed_history_and_never_history_0(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_callback(answer_with_products)

    with make_client(history_days=7) as client:
        client.fetch([A, B], marketplace="co.uk")

    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.path == "/product"
    assert dict(request.url.params) == {
        "key": KEEPA_TEST_KEY,
        "domain": "2",
        "asin": f"{A},{B}",
        "days": "7",
    }
    assert "history" not in request.url.params
    assert "gzip" in request.headers["accept-encoding"]


def test_more_than_100_asins_in_one_request_is_refused(
    make_client: Callable[..., KeepaClient],
) -> None:
    with make_client() as client, pytest.raises(ValueError, match="100"):
        client.fetch([f"B{n:09d}" for n in range(101)], marketplace="com")


# Tokens


def test_not_enough_tokens_waits_for_the_refill_then_retries(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(status_code=429, json=not_enough_tokens(refill_in=1500))
    httpx_mock.add_response(json=products_response(product(A, {HEADPHONES: 1})))

    with make_client() as client:
        [snapshot] = client.fetch([A], marketplace="com")

    assert snapshot.category_ranks[HEADPHONES].rank == 1
    assert reported.sleeps == [pytest.approx(1.6)]
    throttled, answered = reported.calls
    assert (throttled.http_status, throttled.tokens_left, throttled.refill_in_ms) == (429, -5, 1500)
    assert throttled.tokens_consumed == 0
    assert answered.http_status == 200
    assert [error.kind for error in reported.errors] == ["no_tokens"]


def test_a_refill_wait_over_the_bound_stops_with_out_of_tokens(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(status_code=429, json=not_enough_tokens(refill_in=600_000))

    with (
        make_client(max_token_wait_seconds=60) as client,
        pytest.raises(KeepaOutOfTokens) as caught,
    ):
        client.fetch([A, B], marketplace="com")

    assert caught.value.refill_in_ms == 600_000
    assert "600s" in str(caught.value)
    assert reported.sleeps == []
    assert [call.http_status for call in reported.calls] == [429]


def test_tokens_that_never_come_back_stop_with_out_of_tokens_after_the_retries(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(
        status_code=429, json=not_enough_tokens(refill_in=1000), is_reusable=True
    )

    with make_client(max_retries=2) as client, pytest.raises(KeepaOutOfTokens) as caught:
        client.fetch([A], marketplace="com")

    assert caught.value.refill_in_ms == 1000
    assert reported.sleeps == [pytest.approx(1.1), pytest.approx(1.1)]
    assert len(httpx_mock.get_requests()) == 3


def test_token_status_reads_the_free_token_endpoint(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    body = envelope([], tokens_left=850, refill_in=12_000, refill_rate=20)
    del body["products"]
    httpx_mock.add_response(url=f"{BASE}/token?key={KEEPA_TEST_KEY}", json=body)

    with make_client() as client:
        status = client.token_status()

    assert status == TokenStatus(tokens_left=850, refill_in_ms=12_000, refill_rate=20)
    assert [(call.endpoint, call.tokens_left) for call in reported.calls] == [("token", 850)]


# Retries and final errors


def test_server_errors_are_retried_until_keepa_answers(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(status_code=500, text="Internal Server Error")
    httpx_mock.add_response(status_code=500, json={"error": {"type": "FAIL"}})
    httpx_mock.add_response(json=products_response(product(A, {HEADPHONES: 1})))

    with make_client() as client:
        [snapshot] = client.fetch([A], marketplace="com")

    assert snapshot.available
    assert [call.http_status for call in reported.calls] == [500, 500, 200]
    assert len(reported.sleeps) == 2
    assert [error.kind for error in reported.errors] == ["http_error", "http_error"]


def test_server_errors_beyond_max_retries_raise_a_transient_keepa_error(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_response(status_code=503, is_reusable=True)

    with make_client(max_retries=2) as client, pytest.raises(KeepaError) as caught:
        client.fetch([A], marketplace="com")

    assert type(caught.value) is KeepaError
    assert (caught.value.status, caught.value.final) == (503, False)
    assert "after 3 attempts" in str(caught.value)
    assert len(httpx_mock.get_requests()) == 3


def test_an_invalid_key_is_final_with_one_clear_message(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    rejected = {"error": {"type": "REQUEST_REJECTED", "message": "Invalid key"}, "tokensLeft": 0}
    httpx_mock.add_response(status_code=400, json=rejected)

    with make_client() as client, pytest.raises(KeepaAuthError) as caught:
        client.fetch([A], marketplace="com")

    assert str(caught.value) == (
        "Keepa rejected the request (HTTP 400 REQUEST_REJECTED): check KEEPA_API_KEY"
    )
    assert (caught.value.status, caught.value.final, caught.value.exit_code) == (400, True, 2)
    assert len(httpx_mock.get_requests()) == 1
    assert reported.sleeps == []
    assert [call.http_status for call in reported.calls] == [400]


def test_payment_required_is_final(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_response(status_code=402, json={"error": {"type": "PAYMENT_REQUIRED"}})

    with make_client() as client, pytest.raises(KeepaAuthError, match="HTTP 402 PAYMENT_REQUIRED"):
        client.fetch([A], marketplace="com")

    assert len(httpx_mock.get_requests()) == 1


def test_a_timeout_is_retried(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    httpx_mock.add_response(json=products_response(product(A, {HEADPHONES: 1})))

    with make_client() as client:
        [snapshot] = client.fetch([A], marketplace="com")

    assert snapshot.available
    assert [call.http_status for call in reported.calls] == [None, 200]
    assert [error.kind for error in reported.errors] == ["timeout"]


def test_timeouts_on_every_attempt_raise_our_error_not_httpx_s(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), is_reusable=True)

    with make_client(max_retries=1) as client, pytest.raises(KeepaError) as caught:
        client.fetch([A], marketplace="com")

    assert not caught.value.final
    assert "ReadTimeout" in str(caught.value)
    assert not any(isinstance(exc, httpx.HTTPError) for exc in exception_chain(caught.value))


def test_malformed_json_is_retried_like_a_server_error_then_fails(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(
        content=b'{"tokensLeft": 900, "products": [{"asin": "B0A', is_reusable=True
    )

    with (
        make_client(max_retries=2) as client,
        pytest.raises(KeepaError, match="malformed") as caught,
    ):
        client.fetch([A], marketplace="com")

    assert not caught.value.final
    assert len(httpx_mock.get_requests()) == 3
    assert [call.http_status for call in reported.calls] == [200, 200, 200]


def test_malformed_json_once_then_a_good_answer_succeeds(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient]
) -> None:
    httpx_mock.add_response(content=b"<html>Bad Gateway</html>")
    httpx_mock.add_response(json=products_response(product(A, {HEADPHONES: 1})))

    with make_client() as client:
        [snapshot] = client.fetch([A], marketplace="com")

    assert snapshot.category_ranks[HEADPHONES].rank == 1


def test_from_settings_uses_the_configured_url_key_history_and_retries(
    httpx_mock: HTTPXMock, reported: Reported
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        keepa_api_key=KEEPA_TEST_KEY,
        keepa_api_url=BASE,
        keepa_history_days=14,
        max_retries=0,
    )
    httpx_mock.add_response(status_code=500)

    client = KeepaClient.from_settings(settings, on_call=reported.calls.append)
    with client, pytest.raises(KeepaError):
        client.fetch([A], marketplace="com")

    request = httpx_mock.get_request()
    assert request is not None
    assert str(request.url).startswith(f"{BASE}/product?")
    assert request.url.params["days"] == "14"
    assert len(reported.calls) == 1


# What comes back


def test_an_unknown_asin_comes_back_unavailable_not_unranked(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(json=products_response(product(A, {HEADPHONES: 1}), unknown_product(B)))

    with make_client() as client:
        known, unknown = client.fetch([A, B], marketplace="com")

    assert known.available
    assert (unknown.asin, unknown.available, unknown.category_ranks) == (B, False, {})
    assert reported.errors == []


def test_fewer_products_than_asked_leaves_the_missing_ones_unavailable(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_response(
        json=products_response(product(A, {HEADPHONES: 1}), product(C, {HEADPHONES: 4}))
    )

    with make_client() as client:
        snapshots = client.fetch([A, B, C], marketplace="com")

    assert [(s.asin, s.available) for s in snapshots] == [(A, True), (B, False), (C, True)]
    assert snapshots[2].category_ranks[HEADPHONES].rank == 4
    assert [(error.kind, error.asin) for error in reported.errors] == [("missing_product", B)]


def test_a_product_with_missing_fields_is_parsed_as_far_as_possible_and_reported(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    damaged = product(A, {ELECTRONICS: 900, HEADPHONES: 1})
    del damaged["categoryTree"]
    damaged["csv"] = "not a list of histories"
    damaged["salesRanks"][str(ACCESSORIES)] = "garbage"
    httpx_mock.add_response(json=products_response(damaged, product(B, {HEADPHONES: 2})))

    with make_client() as client:
        broken, intact = client.fetch([A, B], marketplace="com")

    assert broken.available
    assert broken.category_ranks == {
        ELECTRONICS: CategoryRank(category_id=ELECTRONICS, rank=900),
        HEADPHONES: CategoryRank(category_id=HEADPHONES, rank=1),
    }
    assert broken.title == f"Product {A}"
    assert broken.price_cents is None
    assert intact.category_ranks[HEADPHONES].rank == 2
    [error] = reported.errors
    assert (error.kind, error.asin, error.marketplace) == ("incomplete_product", A, "com")
    assert "salesRanks[281407]" in error.message
    assert "csv" in error.message


# Parsing (pure)


def test_a_subcategory_rank_of_one_is_parsed_with_the_category_name() -> None:
    raw = product(
        A,
        {ELECTRONICS: 2345, ACCESSORIES: 80, HEADPHONES: 1},
        main_category=ELECTRONICS,
        tree=[ELECTRONICS, ACCESSORIES, HEADPHONES],
    )

    snapshot = parse_product(raw, marketplace="com")

    assert snapshot.category_ranks[HEADPHONES] == CategoryRank(
        category_id=HEADPHONES, name="Headphone Accessories", rank=1
    )
    assert snapshot.category_ranks[ACCESSORIES].name == "Accessories & Supplies"
    assert (snapshot.main_category_id, snapshot.main_rank) == (ELECTRONICS, 2345)


def test_the_current_rank_is_the_last_pair_of_a_long_history() -> None:
    month_of_hourly_ranks = [50 - n % 40 for n in range(720)] + [1]
    raw = product(
        A, {HEADPHONES: month_of_hourly_ranks, ACCESSORIES: [1, 1, 7], ELECTRONICS: [3, -1]}
    )
    raw["salesRanks"]["289913"] = []  # trimmed by days=N to nothing: unknown, not "unranked"

    snapshot = parse_product(raw, marketplace="com")

    assert snapshot.category_ranks[HEADPHONES].rank == 1
    assert snapshot.category_ranks[ACCESSORIES].rank == 7
    assert snapshot.category_ranks[ELECTRONICS].rank is None  # -1: present but not ranked
    assert 289913 not in snapshot.category_ranks


def test_a_product_keepa_cannot_resolve_is_unavailable() -> None:
    no_ranks_no_title = product(A, {})
    no_ranks_no_title["title"] = None

    assert not parse_product(unknown_product(A), marketplace="com").available
    assert not parse_product(
        product(A, {HEADPHONES: 1}, product_type=4), marketplace="com"
    ).available
    assert not parse_product(no_ranks_no_title, marketplace="com").available


def test_parse_product_reads_title_image_time_price_rating_and_reviews() -> None:
    now = datetime(2025, 3, 1, 12, 30, 45, tzinfo=UTC)
    raw = product(
        A,
        {HEADPHONES: 3},
        title="Ear Pads &amp; Case\t<b>Black</b>\x07",
        now=now,
        price_cents=2499,
        rating=47,
        reviews=812,
    )

    snapshot = parse_product(raw, marketplace="de")

    assert snapshot.marketplace == "de"
    assert snapshot.title == "Ear Pads &amp; Case <b>Black</b>"  # as sent, minus controls
    assert snapshot.brand == "Acme"
    assert snapshot.image_url == f"https://m.media-amazon.com/images/I/{A}-main.jpg"
    assert snapshot.last_update == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    assert (snapshot.price_cents, snapshot.rating, snapshot.review_count) == (2499, 4.7, 812)


def test_the_price_falls_back_to_amazon_when_there_is_no_new_offer() -> None:
    raw = product(A, {HEADPHONES: 3})
    raw["csv"][1] = [7_000_000, 1999, 7_000_100, -1]
    raw["csv"][0] = [7_000_000, 2599]
    assert parse_product(raw, marketplace="com").price_cents == 2599

    raw["csv"][0] = [7_000_000, -1]
    assert parse_product(raw, marketplace="com").price_cents is None


def test_without_a_main_category_or_a_ranked_root_there_is_no_main_rank() -> None:
    raw = product(A, {HEADPHONES: 1}, main_category=-1)
    raw["rootCategory"] = ELECTRONICS  # not ranked

    snapshot = parse_product(raw, marketplace="com")

    assert (snapshot.main_category_id, snapshot.main_rank) == (None, None)
    assert snapshot.category_ranks[HEADPHONES].rank == 1


# The key never leaks


def exception_chain(exc: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def leak_scenarios() -> dict[str, Callable[[HTTPXMock], None]]:
    """Each failure path, with Keepa or httpx echoing the key where they plausibly could."""
    url = f"{BASE}/product?key={KEEPA_TEST_KEY}&domain=1&asin={A}"
    echo = {"error": {"type": "REQUEST_REJECTED", "message": f"invalid key {KEEPA_TEST_KEY}"}}
    return {
        "invalid key": lambda mock: mock.add_response(status_code=400, json=echo),
        "payment required": lambda mock: mock.add_response(status_code=402, json=echo),
        "server errors": lambda mock: mock.add_response(
            status_code=500, text=f"failed {url}", is_reusable=True
        ),
        "timeouts": lambda mock: mock.add_exception(
            httpx.ReadTimeout(f"timed out on GET {url}"), is_reusable=True
        ),
        "connection refused": lambda mock: mock.add_exception(
            httpx.ConnectError(f"cannot connect for {KEEPA_TEST_KEY}"), is_reusable=True
        ),
        "malformed json": lambda mock: mock.add_response(
            content=f'{{"echo": "{url}", "products": ['.encode(), is_reusable=True
        ),
        "tokens over the bound": lambda mock: mock.add_response(
            status_code=429, json=not_enough_tokens(refill_in=10_000_000)
        ),
        "tokens exhausted": lambda mock: mock.add_response(
            status_code=429, json=not_enough_tokens(refill_in=10), is_reusable=True
        ),
        "missing and damaged products": lambda mock: mock.add_response(
            json=products_response({"asin": A, "salesRanks": {"1": "x"}, "title": "t", "csv": 5})
        ),
    }


@pytest.mark.parametrize("scenario", list(leak_scenarios()))
def test_the_key_appears_in_no_log_output_exception_or_stored_row(
    scenario: str,
    httpx_mock: HTTPXMock,
    make_client: Callable[..., KeepaClient],
    reported: Reported,
    conn: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    leak_scenarios()[scenario](httpx_mock)
    failure: KeepaError | None = None

    with make_client(max_retries=2, max_token_wait_seconds=60) as client:
        try:
            client.fetch([A, B], marketplace="com")
        except KeepaError as exc:
            failure = exc
            logging.getLogger("bestseller_cli.check.run").error("pass failed", exc_info=exc)
            reported.errors.append(
                ErrorEvent(source="keepa", kind=type(exc).__name__, message=str(exc))
            )
    log_store.record_api_calls(conn, reported.calls, run_id=None, token_cost_usd=0.00002)
    log_store.record_errors(conn, reported.errors, run_id=None)

    assert reported.calls and reported.errors  # the path was taken and reported
    out, err = capsys.readouterr()
    rows = [
        row[0]
        for table in ("api_usage_log", "error_log")
        for row in conn.execute(f"SELECT t::text FROM {table} t").fetchall()
    ]
    assert len(rows) == len(reported.calls) + len(reported.errors)
    texts = {"log": caplog.text, "stdout": out, "stderr": err, "rows": "\n".join(rows)}
    texts["reported"] = "\n".join(m.model_dump_json() for m in [*reported.calls, *reported.errors])
    for exc in exception_chain(failure):
        assert not isinstance(exc, httpx.HTTPError)
        texts[f"{type(exc).__name__}"] = "\n".join(
            [str(exc), repr(exc), *traceback.format_exception(exc)]
        )
    for where, text in texts.items():
        assert KEEPA_TEST_KEY not in text, f"the Keepa key leaked into {where}"
        assert "SECRETKEEPAKEY" not in text, f"part of the Keepa key leaked into {where}"


def test_httpx_request_log_lines_show_the_url_with_the_key_masked(
    httpx_mock: HTTPXMock,
    make_client: Callable[..., KeepaClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    httpx_mock.add_callback(answer_with_products)

    with make_client() as client:
        client.fetch([A], marketplace="com")

    [request_line] = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert re.search(r"/product\?key=\*\*\*&domain=1", request_line)
    assert KEEPA_TEST_KEY not in caplog.text


# A total time limit per request, and a size cap


def test_an_answer_trickling_in_is_cut_off_at_the_total_request_timeout(
    make_client: Callable[..., KeepaClient], trickling_keepa: TricklingKeepa
) -> None:
    client = make_client(base_url=trickling_keepa.url, timeout=0.5, max_retries=0)
    with pytest.raises(
        KeepaError, match=r"longer than 0.5s in total \(the request's limit: API_TIMEOUT"
    ):
        client.fetch([A], marketplace="com")
    assert trickling_keepa.trickled == ["/product"]


def test_no_request_starts_after_the_run_deadline(
    make_client: Callable[..., KeepaClient], trickling_keepa: TricklingKeepa
) -> None:
    client = make_client(base_url=trickling_keepa.url, deadline=time.monotonic() - 1)
    with pytest.raises(KeepaError, match="run deadline"):
        client.fetch([A], marketplace="com")
    assert trickling_keepa.trickled == []


def test_an_answer_over_the_size_cap_stops_without_a_retry(
    httpx_mock: HTTPXMock, make_client: Callable[..., KeepaClient], reported: Reported
) -> None:
    httpx_mock.add_callback(answer_with_products, is_reusable=True)
    client = make_client(max_response_bytes=2048)
    with pytest.raises(KeepaError, match="larger than 2,048 bytes"):
        client.fetch([f"B{n:09d}" for n in range(20)], marketplace="com")
    assert len(httpx_mock.get_requests()) == 1
