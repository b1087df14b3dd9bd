"""Keepa responses as Keepa really sends them, for pytest-httpx and the fake servers.

Shapes follow Keepa's Response.java / Product.java and real recorded responses (2025-2026,
amazon.com/.co.jp/.ca); fakes/KEEPA_SHAPES.md says what is real and where the fakes stop.
The untidy parts are the point: categoryTree names only the main browse path (most ranked
categories are not in it), `categories` differs from the ranked set, `images` replaced
`imagesCSV`, `csv` has 36 entries with most of them null, histories go back years and the
last rank point can be much older than `lastUpdate`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

KEEPA_EPOCH_OFFSET_MINUTES = 21564000
CSV_LENGTH = 36  # one entry per CsvType: 0 AMAZON ... 35 COUNT_NEW_FBM
CSV_AMAZON, CSV_NEW, CSV_SALES, CSV_COUNT_NEW, CSV_RATING, CSV_REVIEWS = 0, 1, 3, 11, 16, 17
CATEGORY_NAMES = {
    172282: "Electronics",
    281407: "Accessories & Supplies",
    3015427011: "Headphone Accessories",
    1055398: "Home & Kitchen",
    289913: "Kitchen Utensils & Gadgets",
    283155: "Books",
}
# A browse node on the main path that carries no rank: categoryTree and `categories` name it.
BROWSE_LEAF = 17_000_001
BROWSE_LEAF_NAME = "Shop by Use"
YEAR = 365 * 24 * 60

# A category's rank: the current one, the last hours' (hourly, oldest first), or Keepa's
# series itself as (time, rank) points.
Ranks = int | list[int] | list[tuple[datetime, int]]


def keepa_minute(when: datetime) -> int:
    return int(when.timestamp() // 60) - KEEPA_EPOCH_OFFSET_MINUTES


def product(
    asin: str,
    ranks: dict[int, Ranks],
    *,
    title: str | None = None,
    main_category: int | None = None,
    tree: list[int] | None = None,
    now: datetime | None = None,
    last_update: datetime | None = None,
    rank_since: datetime | None = None,
    product_type: int = 0,
    price_cents: int | None = 1999,
    rating: int | None = 45,
    reviews: int | None = 1234,
    legacy_images: bool = False,
) -> dict[str, Any]:
    """A product whose current rank in each category is the given one (or the last of a list
    of ranks, hourly, oldest first), after two years of older points, or whose series is the
    given (time, rank) points. Rank -1 means "no rank" as Keepa sends it.

    `main_category` is salesRankReference (default: the first ranked category; -1 as Keepa
    sometimes sends it). `tree` lists the categoryTree ids, root first (default: the first
    ranked category and an unranked browse leaf, so every other ranked category is missing
    from it). `rank_since` is when the ranks last changed (default: `now`); `last_update`
    when Keepa last looked (default: `now`). `legacy_images` sends `imagesCSV` (before 2026)
    instead of `images`."""
    now = now or datetime.now(UTC)
    minute = keepa_minute(now)
    last_point = keepa_minute(rank_since) if rank_since else minute
    sales_ranks = {
        str(category): rank_history(history, last_point=last_point)
        for category, history in ranks.items()
    }
    categories = list(ranks)
    main = main_category if main_category is not None else (categories[0] if categories else -1)
    tree_ids = tree if tree is not None else [*categories[:1], BROWSE_LEAF]
    csv: list[list[int] | None] = [None] * CSV_LENGTH
    if price_cents is not None:
        csv[CSV_NEW] = [minute - 2 * YEAR, price_cents + 500, minute - 600, price_cents + 100]
        csv[CSV_NEW] += [minute, price_cents]
        csv[CSV_COUNT_NEW] = [minute - 2 * YEAR, 3, minute, 12]
    if str(main) in sales_ranks:
        csv[CSV_SALES] = sales_ranks[str(main)]
    if rating is not None:
        csv[CSV_RATING] = [minute - YEAR, rating - 1, minute, rating]
    if reviews is not None:
        csv[CSV_REVIEWS] = [minute - YEAR, reviews // 2, minute, reviews]
    raw: dict[str, Any] = {
        "productType": product_type,
        "asin": asin,
        "domainId": 1,
        "title": title if title is not None else f"Product {asin}",
        "brand": "Acme",
        "trackingSince": minute - 3 * YEAR,
        "listedSince": minute - 3 * YEAR,
        "lastUpdate": keepa_minute(last_update) if last_update else minute,
        "lastRankUpdate": last_point,
        "lastPriceChange": minute - 600,
        "rootCategory": categories[0] if categories else 0,
        "categories": [BROWSE_LEAF, 99_000_003],
        "categoryTree": [{"catId": cat, "name": category_name(cat)} for cat in tree_ids] or None,
        "salesRankReference": main,
        "salesRankReferenceHistory": [minute - 2 * YEAR, main] if main != -1 else None,
        "salesRanks": sales_ranks or None,
        "csv": csv,
        "stats": stats(csv, minute),
        "monthlySold": 300,
        "variationCSV": None,
        "parentAsin": None,
        "eanList": ["0885909950805"],
        "frequentlyBoughtTogether": None,
        "availabilityAmazon": -1,
    }
    if legacy_images:
        raw["imagesCSV"] = f"{asin}-main.jpg,{asin}-side.jpg"
    else:
        raw["images"] = [
            {"l": f"{asin}-main.jpg", "lH": 1500, "lW": 1500, "m": f"{asin}-m.jpg", "mH": 500},
            {"l": f"{asin}-side.jpg", "lH": 1500, "lW": 1500, "m": f"{asin}-sm.jpg", "mH": 500},
        ]
    return raw


def category_name(category_id: int) -> str:
    if category_id == BROWSE_LEAF:
        return BROWSE_LEAF_NAME
    return CATEGORY_NAMES.get(category_id, f"Category {category_id}")


def rank_history(history: Ranks, *, last_point: int) -> list[int]:
    """Two years of weekly-ish older points, then the given ranks hourly up to `last_point`;
    or the given (time, rank) points as they are."""
    if isinstance(history, list) and history and isinstance(history[0], tuple):
        return [value for at, rank in history for value in (keepa_minute(at), rank)]
    values = history if isinstance(history, list) else [history]
    older = [last_point - 2 * YEAR, 90_000, last_point - YEAR, 40_000, last_point - 60 * 1440]
    flat = [*older, 5_000 if values[0] != -1 else -1]
    for offset, rank in enumerate(values):
        flat += [last_point - 60 * (len(values) - 1 - offset), rank]
    return flat


def stats(csv: list[list[int] | None], minute: int) -> dict[str, Any]:
    """Keepa's `stats` object (stats=N): current values by csv index, -1 where unknown."""
    current = [series[-1] if series else -1 for series in csv]
    return {
        "current": current,
        "avg": current,
        "atIntervalStart": current,
        "outOfStockPercentageInInterval": [0] * CSV_LENGTH,
        "lastOffersUpdate": minute,
        "totalOfferCount": 12,
    }


def unknown_product(asin: str, *, now: datetime | None = None) -> dict[str, Any]:
    """What Keepa returns for an ASIN it cannot resolve: productType 4 (invalid) with
    lastUpdate and trackingSince set, and no title, ranks or histories."""
    minute = keepa_minute(now or datetime.now(UTC))
    return {
        "productType": 4,
        "asin": asin,
        "domainId": 1,
        "title": None,
        "trackingSince": minute - 5,
        "lastUpdate": minute,
        "csv": None,
        "salesRanks": None,
        "categoryTree": None,
        "categories": None,
        "rootCategory": 0,
        "salesRankReference": -1,
        "images": None,
    }


def variation_parent(asin: str, children: list[str], *, now: datetime | None = None) -> dict:
    """A variation parent (productType 5): a title, no rank data; `variationCSV` lists the
    children, which carry the ranks."""
    raw = unknown_product(asin, now=now)
    raw.update(
        productType=5,
        title=f"Parent {asin}",
        variationCSV=",".join(children),
        variations=[{"asin": child, "attributes": []} for child in children],
        rootCategory=172282,
    )
    return raw


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


def trim_to_days(raw: dict[str, Any], days: int, *, now: datetime) -> dict[str, Any]:
    """What `days=N` does (Keepa's docs): every history keeps the points of the last N days
    and the last point before them, which means "unchanged since"; current values survive."""
    start = keepa_minute(now - timedelta(days=days))
    trimmed = dict(raw)
    if raw.get("salesRanks"):
        trimmed["salesRanks"] = {k: _trim(v, start) for k, v in raw["salesRanks"].items()}
    if raw.get("csv"):
        trimmed["csv"] = [_trim(series, start) if series else series for series in raw["csv"]]
    return trimmed


def _trim(flat: list[int], start: int) -> list[int]:
    keep = next((i for i in range(0, len(flat), 2) if flat[i] >= start), len(flat))
    return flat[max(keep - 2, 0) :]


def categories_response(
    ids: list[int], names: dict[int, str], *, tokens_left: int = 1000, tokens_consumed: int = 1
) -> dict[str, Any]:
    """A /category answer (Category.java objects keyed by id); ids Keepa does not know are
    simply absent."""
    body = envelope([], tokens_left=tokens_left, tokens_consumed=tokens_consumed)
    del body["products"]
    body["categories"] = {
        str(cat): {
            "domainId": 1,
            "catId": cat,
            "name": names[cat],
            "contextFreeName": names[cat],
            "children": [],
            "parent": 0,
            "highestRank": 900_000,
            "lowestRank": 1,
            "productCount": 12_000,
            "isBrowseNode": True,
        }
        for cat in ids
        if cat in names
    }
    body["categoryParents"] = None
    return body


def best_sellers(
    category_id: int,
    asins: list[str] | None,
    *,
    updated: datetime,
    tokens_left: int = 1000,
    tokens_consumed: int = 50,
    domain_id: int = 1,
) -> dict[str, Any]:
    """A /bestsellers answer: `bestSellersList` (BestSellers.java), best first; a category
    Keepa has no list for comes back without it, and costs nothing (Keepa's docs)."""
    consumed = tokens_consumed if asins is not None else 0
    body = envelope([], tokens_left=tokens_left, tokens_consumed=consumed)
    del body["products"]
    if asins is not None:
        body["bestSellersList"] = {
            "domainId": domain_id,
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
