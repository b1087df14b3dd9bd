"""Typed data that crosses module boundaries."""

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bestseller_cli.kinds import ChangeKind

# One point of a Keepa rank series: when Keepa recorded it, and the rank (None: not ranked).
RankPoint = tuple[datetime, int | None]


class CategoryRank(BaseModel):
    """A product's current position in one Best Sellers list; rank None means not ranked."""

    model_config = ConfigDict(frozen=True)

    category_id: int
    name: str | None = None
    rank: int | None = None


# Keepa's productType (Product.java), evaluated before any other field.
PRODUCT_TYPES = {
    0: "standard",
    1: "downloadable",
    2: "ebook",
    3: "unaccessible",
    4: "invalid",
    5: "variation parent",
}
INVALID, VARIATION_PARENT = 4, 5


class ProductSnapshot(BaseModel):
    """What Keepa says about one ASIN now. `available` False means Keepa had no usable data:
    the badge state is unknown, never "lost".

    Its dump by alias is what a check stores of it in asin_current_state, one column per
    field not excluded: a new Keepa field is a field here, its parsing in keepa/payload.py and a
    migration column."""

    asin: str
    marketplace: str
    available: bool = True
    # Keepa's answer left this ASIN out: nothing was learned, not even that it is unknown.
    missing: bool = Field(default=False, exclude=True)
    product_type: int | None = None
    # A variation parent's children (variationCSV): the ASINs that carry ranks.
    variation_asins: list[str] = Field(default_factory=list)
    title: str | None = None
    brand: str | None = None
    image_url: str | None = None
    # When Keepa last looked at the product.
    last_update: datetime | None = Field(default=None, serialization_alias="keepa_updated_at")
    ranks_changed_at: datetime | None = None  # the newest rank point: "unchanged since"
    main_category_id: int | None = None
    main_rank: int | None = None
    # Only the categories Keepa reported a rank series for; a missing one is unknown. Not
    # stored as such: the state merges them with the ranks known before.
    category_ranks: dict[int, CategoryRank] = Field(default_factory=dict, exclude=True)
    # Each reported category's rank series as Keepa sent it (trimmed to `days`), oldest
    # first: the changes between two checks are walked from it (rules/badges.py).
    rank_series: dict[int, list[RankPoint]] = Field(default_factory=dict, exclude=True)
    price_cents: int | None = None
    rating: float | None = None
    review_count: int | None = None


class StoredState(BaseModel):
    """What we last knew of an (asin, marketplace): ranks per category and badges held, and
    when: our last check (`checked_at`) and the newest rank point Keepa had sent by then
    (`series_until`). Points after it are what happened since."""

    category_ranks: dict[int, CategoryRank] = Field(default_factory=dict)
    badges: dict[int, datetime] = Field(default_factory=dict)
    first_seen_at: datetime
    checked_at: datetime | None = None
    series_until: datetime | None = None


class ListMove(BaseModel):
    """A product a category's change names from Keepa's best seller list: its rank in the
    list before and after (None: outside the part kept), and whose it is (own, competitor,
    untracked) for the watching client, with its title when known."""

    asin: str
    title: str | None = None
    role: str = "untracked"
    rank_before: int | None = None
    rank_after: int | None = None


class Change(BaseModel):
    """A change of one ASIN in one category, as detected and as stored: its fields are the
    columns of bestseller_changes, which every store reads and writes by these names."""

    asin: str
    marketplace: str
    category_id: int
    category_name: str | None
    kind: ChangeKind
    rank_before: int | None
    rank_after: int | None
    main_rank: int | None
    title: str | None
    detected_at: datetime  # when a check of ours saw it
    keepa_seen_at: datetime | None = None  # Keepa's lastUpdate of the product
    # When it happened: the time of the rank point in Keepa's series where it crossed, kept
    # between our check before and the one that saw it. Given none, `detected_at`.
    changed_at: datetime
    # A watched category's change (rules/category_watch.py): the #1 it displaced, and the
    # products its message names from the list.
    previous_asin: str | None = None
    list_moves: list[ListMove] | None = None

    @model_validator(mode="before")
    @classmethod
    def _changed_when_seen(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("changed_at") is None:
            return {**data, "changed_at": data.get("detected_at")}
        return data


class TrackedAsin(BaseModel):
    asin: str
    marketplace: str
    client: str | None = None


def parse_asin(text: str) -> str:
    """Upper-case and validate an ASIN: 10 letters or digits (an ISBN-10 is a book's ASIN)."""
    asin = text.strip().upper()
    if len(asin) != 10 or not asin.isascii() or not asin.isalnum():
        raise ValueError(f"{text.strip()!r} is not an ASIN (10 letters or digits, e.g. B0C1234567)")
    return asin


MAX_CLIENT_NAME = 100


def parse_client_name(text: str) -> str:
    """Trim and validate a client name: 1 to 100 characters, no newline or control character."""
    name = text.strip()
    if not name:
        raise ValueError("a client name cannot be empty")
    if len(name) > MAX_CLIENT_NAME:
        raise ValueError(f"a client name has at most {MAX_CLIENT_NAME} characters")
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in name):
        raise ValueError(f"{name!r} is not a client name: no newlines or control characters")
    return name


class BestSellerList(BaseModel):
    """Head of Keepa's best seller list of one category: who led when Keepa last rebuilt the
    list (`updated_at`; hourly at best per Keepa's docs), not necessarily who is #1 now."""

    category_id: int
    first_asin: str | None
    updated_at: datetime | None
    tokens_consumed: int | None
    asins: list[str] = []  # the whole list, best first (empty: Keepa has no list for it)


class ApiCall(BaseModel):
    """One HTTP call to Keepa, for api_usage_log."""

    endpoint: str
    marketplace: str | None = None
    asin_count: int = 0
    http_status: int | None = None
    tokens_consumed: int | None = None
    tokens_left: int | None = None
    refill_in_ms: int | None = None
    refill_rate: int | None = None
    duration_ms: int
    called_at: datetime


class ErrorEvent(BaseModel):
    """A failure worth keeping in error_log. `message` must already be free of secrets."""

    source: str
    kind: str
    message: str
    asin: str | None = None
    marketplace: str | None = None
    context: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One message to a channel, before any channel shapes it: an alert (one change, with
    the lines that tell its story), a digest (several changes under a `title`), or an
    operations notice (`notice`, with its `status`). `outbox_ids` are the outbox rows it
    carries, in the order of `changes`; a channel marks its messages with them, so that a
    message whose answer was lost is found again (reconciliation) or deduplicated."""

    outbox_ids: tuple[int, ...]
    changes: tuple[Change, ...] = ()
    lines: tuple[str, ...] = ()
    title: str | None = None
    notice: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Picture:
    """A PNG to attach under a message (a chart), with its title and alt text."""

    png: bytes
    title: str
    alt: str


@dataclass(frozen=True)
class Printed:
    """An alert as a terminal or a log shows it: one line, then its details."""

    text: str
    details: tuple[str, ...] = ()
