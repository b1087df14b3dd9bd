"""Keepa's best seller list by sub-category rank, as the client asks for it and the fake
answers it: `sublist=1`, 50 tokens a list, an empty answer free, and no token left a 429."""

from datetime import UTC, datetime

import pytest

from bestseller_cli.keepa.answers import KeepaOutOfTokens
from bestseller_cli.keepa.client import KeepaClient
from fakes import KEEPA_TEST_KEY
from fakes.keepa_server import FakeKeepa

KITCHEN, EMPTY = 3167641, 99
A, B, C = "B0A0000001", "B0B0000002", "B0C0000003"
UPDATED = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def client(**options: object) -> KeepaClient:
    return KeepaClient(
        api_key=KEEPA_TEST_KEY,
        base_url="https://keepa.test",
        timeout=5.0,
        max_retries=1,
        retry_delay=0.0,
        max_token_wait_seconds=1.0,
        history_days=30,
        sleep=lambda seconds: None,
        **options,
    )


def test_a_list_is_asked_by_sub_category_rank_and_comes_back_whole(keepa: FakeKeepa) -> None:
    keepa.best_seller_lists[("de", KITCHEN)] = [A, B, "not-an-asin", C]
    keepa.list_updates[("de", KITCHEN)] = UPDATED
    with client() as keepa_client:
        listing = keepa_client.best_seller_list(KITCHEN, marketplace="de")
    [query] = keepa.sent_to("bestsellers")
    assert (query["sublist"], query["domain"], query["category"]) == (["1"], ["3"], [str(KITCHEN)])
    assert "range" not in query
    assert (listing.asins, listing.first_asin, listing.updated_at) == ([A, B, C], A, UPDATED)
    assert listing.tokens_consumed == 50


def test_a_category_without_a_list_answers_empty_and_costs_nothing(keepa: FakeKeepa) -> None:
    before = keepa.tokens_left
    with client() as keepa_client:
        listing = keepa_client.best_seller_list(EMPTY, marketplace="de")
    assert (listing.asins, listing.first_asin, listing.updated_at) == ([], None, None)
    assert listing.tokens_consumed == 0 and keepa.tokens_left == before


def test_with_no_token_left_keepa_refuses_and_the_client_stops_out_of_tokens(
    keepa: FakeKeepa,
) -> None:
    keepa.best_seller_lists[("de", KITCHEN)] = [A]
    keepa.tokens_left, keepa.refuse_when_spent, keepa.refill_in_ms = 40, True, 600_000
    with client() as keepa_client:
        assert keepa_client.best_seller_list(KITCHEN, marketplace="de").asins == [A]
        assert keepa.tokens_left == -10
        with pytest.raises(KeepaOutOfTokens) as caught:
            keepa_client.best_seller_list(KITCHEN, marketplace="de")
    assert caught.value.refill_in_ms == 600_000
