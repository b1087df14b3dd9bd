"""Keepa responses in Keepa's real JSON format, for pytest-httpx and the fake servers.

Shapes follow Keepa's Response.java / Product.java: an envelope with tokensLeft, refillIn,
refillRate, tokensConsumed and products[], each product with salesRanks (categoryId -> flat
[keepaMinute, rank, ...] history, last pair current), categoryTree, csv histories.
"""

from datetime import UTC, datetime
from typing import Any

KEEPA_EPOCH_OFFSET_MINUTES = 21564000
CATEGORY_NAMES = {
    172282: "Electronics",
    281407: "Accessories & Supplies",
    3015427011: "Headphone Accessories",
    1055398: "Home & Kitchen",
    289913: "Kitchen Utensils & Gadgets",
    283155: "Books",
}


def keepa_minute(when: datetime) -> int:
    return int(when.timestamp() // 60) - KEEPA_EPOCH_OFFSET_MINUTES


def product(
    asin: str,
    ranks: dict[int, int | list[int]],
    *,
    title: str | None = None,
    main_category: int | None = None,
    now: datetime | None = None,
    product_type: int = 0,
    price_cents: int | None = 1999,
    rating: int | None = 45,
    reviews: int | None = 1234,
) -> dict[str, Any]:
    """A product whose current rank in each category is the given one (or the last of a list
    of ranks, oldest first). Rank -1 means "no rank" as Keepa sends it."""
    now = now or datetime.now(UTC)
    minute = keepa_minute(now)
    sales_ranks: dict[str, list[int]] = {}
    for category, history in ranks.items():
        values = history if isinstance(history, list) else [history]
        flat: list[int] = []
        for offset, rank in enumerate(values):
            flat += [minute - 60 * (len(values) - 1 - offset), rank]
        sales_ranks[str(category)] = flat
    categories = list(ranks)
    main = main_category if main_category is not None else (categories[0] if categories else None)
    tree = [
        {"catId": cat, "name": CATEGORY_NAMES.get(cat, f"Category {cat}")} for cat in categories
    ]
    csv: list[list[int] | None] = [None] * 18
    if price_cents is not None:
        csv[1] = [minute - 600, price_cents + 100, minute, price_cents]
    if main is not None and main in ranks:
        csv[3] = sales_ranks[str(main)]
    if rating is not None:
        csv[16] = [minute, rating]
    if reviews is not None:
        csv[17] = [minute, reviews]
    return {
        "productType": product_type,
        "asin": asin,
        "domainId": 1,
        "title": title if title is not None else f"Product {asin}",
        "brand": "Acme",
        "imagesCSV": f"{asin}-main.jpg,{asin}-side.jpg",
        "lastUpdate": minute,
        "lastRankUpdate": minute,
        "rootCategory": categories[0] if categories else 0,
        "categories": categories[-1:],
        "categoryTree": tree,
        "salesRankReference": main if main is not None else -1,
        "salesRankReferenceHistory": [minute - 10000, main] if main is not None else None,
        "salesRanks": sales_ranks or None,
        "csv": csv,
        "monthlySold": 300,
    }


def unknown_product(asin: str) -> dict[str, Any]:
    """What Keepa returns for an ASIN it cannot resolve: no data, productType 5."""
    return {
        "productType": 5,
        "asin": asin,
        "domainId": 1,
        "title": None,
        "lastUpdate": 0,
        "csv": None,
        "salesRanks": None,
        "categoryTree": None,
    }


def envelope(
    products: list[dict[str, Any]],
    *,
    tokens_left: int = 1000,
    refill_in: int = 30000,
    refill_rate: int = 20,
    tokens_consumed: int | None = None,
) -> dict[str, Any]:
    return {
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "tokensLeft": tokens_left,
        "refillIn": refill_in,
        "refillRate": refill_rate,
        "tokenFlowReduction": 0.0,
        "tokensConsumed": len(products) if tokens_consumed is None else tokens_consumed,
        "processingTimeInMs": 42,
        "products": products,
    }


def best_sellers(
    category_id: int,
    asins: list[str] | None,
    *,
    updated: datetime,
    tokens_left: int = 1000,
    tokens_consumed: int = 50,
) -> dict[str, Any]:
    """A /bestsellers answer: `bestSellersList` (BestSellers.java), best first; a category
    Keepa has no list for comes back without it."""
    body = envelope([], tokens_left=tokens_left, tokens_consumed=tokens_consumed)
    del body["products"]
    if asins is not None:
        body["bestSellersList"] = {
            "domainId": 1,
            "lastUpdate": keepa_minute(updated),
            "categoryId": category_id,
            "asinList": asins,
        }
    return body


def not_enough_tokens(*, refill_in: int = 1000, tokens_left: int = -5) -> dict[str, Any]:
    """The body of HTTP 429: still carries tokensLeft and refillIn."""
    return {
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "tokensLeft": tokens_left,
        "refillIn": refill_in,
        "refillRate": 20,
        "tokenFlowReduction": 0.0,
        "tokensConsumed": 0,
        "processingTimeInMs": 1,
        "error": {"type": "NOT_ENOUGH_TOKEN", "message": "Not enough tokens."},
    }
