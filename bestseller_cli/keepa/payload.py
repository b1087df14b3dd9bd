"""Keepa's JSON mapped to our models: a /product answer's products as snapshots, and the
/token, /bestsellers and /category envelopes. Pure: no HTTP, nothing but the payload in."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from bestseller_cli.escape import without_controls
from bestseller_cli.models import (
    INVALID,
    VARIATION_PARENT,
    BestSellerList,
    CategoryRank,
    ProductSnapshot,
    RankPoint,
)

T = TypeVar("T")

KEEPA_EPOCH_OFFSET_MINUTES = 21564000
IMAGE_URL = "https://m.media-amazon.com/images/I/"
# Product.java ProductType: 4 INVALID, 5 VARIATION_PARENT -- Keepa has no rank data.
NO_DATA_TYPES = {INVALID, VARIATION_PARENT}
CSV_AMAZON, CSV_NEW, CSV_SALES, CSV_RATING, CSV_REVIEWS = 0, 1, 3, 16, 17
IMAGE_FILE = re.compile(r"\.(jpe?g|png|gif|webp)$", re.IGNORECASE)


class TokenStatus(BaseModel):
    """Keepa's token bucket now: what a pass can spend, and how fast it refills (per minute)."""

    tokens_left: int
    refill_in_ms: int
    refill_rate: int


class CategoryNames(BaseModel):
    """What one /category request named, and what it cost."""

    names: dict[int, str]
    tokens_consumed: int | None


def token_status(body: dict[str, Any]) -> TokenStatus:
    """Tokens left and refill from a /token answer."""
    refill_in_ms, refill_rate = number(body, "refillIn") or 0, number(body, "refillRate") or 0
    return TokenStatus(
        tokens_left=body["tokensLeft"], refill_in_ms=refill_in_ms, refill_rate=refill_rate
    )


LISTED_ASIN = re.compile(r"[A-Z0-9]{10}")


def best_seller_list(body: dict[str, Any], *, category_id: int) -> BestSellerList:
    """A /bestsellers answer; a category without a list has no bestSellersList."""
    listing = body.get("bestSellersList")
    listing = listing if isinstance(listing, dict) else {}
    # As the database keeps them: anything else in the list is not an ASIN we can name.
    asins = [
        asin
        for asin in listing.get("asinList") or []
        if isinstance(asin, str) and LISTED_ASIN.fullmatch(asin)
    ]
    updated = number(listing, "lastUpdate")
    return BestSellerList(
        category_id=category_id,
        first_asin=asins[0] if asins else None,
        updated_at=keepa_time(updated) if updated and updated > 0 else None,
        tokens_consumed=number(body, "tokensConsumed"),
        asins=asins,
    )


def category_names(body: dict[str, Any]) -> CategoryNames:
    """A /category answer's names; a category Keepa does not know is absent from it."""
    found = body.get("categories")
    names: dict[int, str] = {}
    for key, entry in (found if isinstance(found, dict) else {}).items():
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and keepa_text(name) and str(key).isdigit():
            names[int(key)] = keepa_text(name)
    return CategoryNames(names=names, tokens_consumed=number(body, "tokensConsumed"))


def keepa_time(minute: int) -> datetime:
    """Keepa minutes (since 2011-01-01) as a UTC datetime."""
    return datetime.fromtimestamp((minute + KEEPA_EPOCH_OFFSET_MINUTES) * 60, UTC)


def parse_product(raw: dict[str, Any], *, marketplace: str) -> ProductSnapshot:
    """One Keepa product as a snapshot. Pure; a field that is missing or unreadable stays None."""
    return read_product(raw, marketplace=marketplace, problems=[])


def read_product(raw: dict[str, Any], *, marketplace: str, problems: list[str]) -> ProductSnapshot:
    """Parse, noting in `problems` each field that could not be read."""
    asin = str(raw.get("asin") or "")
    product_type = raw.get("productType") if isinstance(raw.get("productType"), int) else None
    sales_ranks = raw.get("salesRanks")
    if product_type in NO_DATA_TYPES or (
        not sales_ranks and (not raw.get("title") or not raw.get("lastUpdate"))
    ):
        return ProductSnapshot(
            asin=asin,
            marketplace=marketplace,
            available=False,
            product_type=product_type,
            variation_asins=_variation_asins(raw) if product_type == VARIATION_PARENT else [],
            title=_read([], "title", lambda: _clean_title(raw["title"])),
            image_url=_image_url(raw),
            last_update=_keepa_time_or_none(raw.get("lastUpdate")),
        )
    if not sales_ranks:
        problems.append("no salesRanks (ranks unknown)")
    tree = raw.get("categoryTree") or []
    names = _read(problems, "categoryTree", lambda: _tree_names(tree))
    ranks, rank_series, changed_at = _category_ranks(sales_ranks or {}, names or {}, problems)
    main_id = _read(problems, "salesRankReference", lambda: _main_category(raw, ranks))
    csv = _read(problems, "csv", lambda: list(raw.get("csv") or []))

    def series(index: int) -> Any:
        return csv[index] if csv and len(csv) > index else None

    prices = _read(
        problems, "csv price", lambda: (_last(series(CSV_NEW)), _last(series(CSV_AMAZON)))
    )
    new, amazon = prices or (None, None)
    rating = _read(problems, "csv rating", lambda: _last(series(CSV_RATING)))
    return ProductSnapshot(
        asin=asin,
        marketplace=marketplace,
        product_type=product_type,
        title=_read(problems, "title", lambda: _clean_title(raw["title"])),
        brand=keepa_text(raw["brand"]) if isinstance(raw.get("brand"), str) else None,
        image_url=_read(problems, "images", lambda: _image_url(raw)),
        last_update=_read(problems, "lastUpdate", lambda: keepa_time(int(raw["lastUpdate"]))),
        ranks_changed_at=changed_at,
        main_category_id=main_id,
        main_rank=_main_rank(main_id, ranks, series(CSV_SALES), problems),
        category_ranks=ranks,
        rank_series=rank_series,
        price_cents=new or amazon or None,
        rating=rating / 10 if rating is not None else None,
        review_count=_read(problems, "csv reviews", lambda: _last(series(CSV_REVIEWS))),
    )


def _tree_names(tree: list[Any]) -> dict[int, str]:
    """catId -> name of the categoryTree nodes that carry a name."""
    return {
        int(node["catId"]): keepa_text(node["name"])
        for node in tree
        if isinstance(node, dict) and node.get("name") and node.get("catId") is not None
    }


def _main_category(raw: dict[str, Any], ranks: dict[int, CategoryRank]) -> int | None:
    """The main rank's category: salesRankReference, or, when Keepa sends -1 while ranks
    exist, the root category if it is ranked."""
    reference = _int_or_none(raw.get("salesRankReference"))
    if reference is not None:
        return reference
    root = _int_or_none(raw.get("rootCategory"))
    return root if root in ranks else None


def _main_rank(
    main_id: int | None, ranks: dict[int, CategoryRank], sales: Any, problems: list[str]
) -> int | None:
    """The main category's current rank: its salesRanks series, else csv SALES (index 3,
    the main category's rank history) when salesRanks leaves that category out."""
    if main_id is None:
        return None
    if main_id in ranks:
        return ranks[main_id].rank
    return _read(problems, "csv sales rank", lambda: _last(sales))


def _keepa_time_or_none(minute: Any) -> datetime | None:
    return keepa_time(minute) if isinstance(minute, int) and minute > 0 else None


def _variation_asins(raw: dict[str, Any]) -> list[str]:
    """A parent's children: `variationCSV` ("A,B,C"), else the `variations` objects."""
    text = raw.get("variationCSV")
    if isinstance(text, str) and text.strip():
        return [part.strip() for part in text.split(",") if part.strip()]
    variations = raw.get("variations")
    if isinstance(variations, list):
        return [v["asin"] for v in variations if isinstance(v, dict) and v.get("asin")]
    return []


def _read(problems: list[str], field: str, read: Callable[[], T]) -> T | None:
    try:
        return read()
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        problems.append(f"{field} missing or unreadable")
        return None


def _last(series: Any) -> int | None:
    """Current value of a flat [keepaMinute, value, ...] history; None if empty or -1."""
    if not series:
        return None
    if not isinstance(series, list) or len(series) % 2:
        raise ValueError("not a [time, value, ...] history")
    value = int(series[-1])
    return value if value >= 0 else None


def _int_or_none(value: Any) -> int | None:
    return None if value is None or int(value) < 0 else int(value)


def number(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _category_ranks(
    sales_ranks: dict[str, Any], names: dict[int, str], problems: list[str]
) -> tuple[dict[int, CategoryRank], dict[int, list[RankPoint]], datetime | None]:
    """Current rank per category; -1 means not ranked, an empty series is left out (unknown).
    Also each series as points, and the newest point's time: the ranks are unchanged since."""
    ranks: dict[int, CategoryRank] = {}
    series: dict[int, list[RankPoint]] = {}
    newest: int | None = None
    for key, history in sales_ranks.items():
        try:
            if not history:
                continue
            category_id = int(key)
            points = _points(history)
            ranks[category_id] = CategoryRank(
                category_id=category_id, name=names.get(category_id), rank=points[-1][1]
            )
            series[category_id] = points
            newest = max(newest or 0, int(history[-2]))
        except (TypeError, ValueError):
            problems.append(f"salesRanks[{key}] unreadable")
    return ranks, series, _keepa_time_or_none(newest)


def _points(history: Any) -> list[RankPoint]:
    """A flat [keepaMinute, rank, ...] series as (time, rank) points, oldest first; rank -1
    (not ranked) is None. Keepa sends them in time order; they are sorted all the same."""
    if not isinstance(history, list) or len(history) % 2:
        raise ValueError("not a [time, value, ...] history")
    minutes, values = history[0::2], history[1::2]
    points = [
        (keepa_time(int(minute)), int(value) if int(value) >= 0 else None)
        for minute, value in zip(minutes, values, strict=True)
    ]
    return sorted(points, key=lambda point: point[0])


def keepa_text(value: Any) -> str:
    """A title or a name as Keepa sent it (entities and markup included: every output escapes
    it where it lands), minus control characters, its whitespace collapsed to single spaces."""
    return " ".join(without_controls(str(value)).split())


def _clean_title(title: Any) -> str | None:
    if title is None:
        raise KeyError("title")
    return keepa_text(title) or None


def _image_url(raw: dict[str, Any]) -> str | None:
    """The first image: `images` (2026: a list of {l, m, ...} file names, large first) or
    the older `imagesCSV` ("a.jpg,b.jpg")."""
    for image in raw.get("images") or []:
        name = _image_name(image)
        if name:
            return IMAGE_URL + name
    first_csv = str(raw.get("imagesCSV") or "").split(",")[0].strip()
    return IMAGE_URL + first_csv if first_csv else None


def _image_name(image: Any) -> str | None:
    """A file name from one `images` entry: its large (`l`), else medium (`m`), else any
    image file name it carries; a plain string is the name itself."""
    if isinstance(image, dict):
        named = [image.get("l"), image.get("m"), *image.values()]
        image = next((n for n in named if isinstance(n, str) and IMAGE_FILE.search(n)), None)
    return image.strip() if isinstance(image, str) and image.strip() else None
