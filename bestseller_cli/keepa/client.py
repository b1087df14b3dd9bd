"""Keepa client: product lookups in batches, token accounting, retries, parsing to snapshots.

Keepa takes the API key in the query string, so no URL, httpx exception or raw response text
leaves this module: every message is built here from redacted text.
"""

import html
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx
import tenacity
from pydantic import BaseModel
from tenacity import RetryCallState

from bestseller_cli.config import MARKETPLACES, Settings, normalize_marketplace
from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.models import (
    INVALID,
    VARIATION_PARENT,
    ApiCall,
    BestSellerList,
    CategoryRank,
    ErrorEvent,
    ProductSnapshot,
)
from bestseller_cli.redact import redact, register_secret

log = logging.getLogger(__name__)
T = TypeVar("T")
Params = dict[str, str | int]

BATCH_SIZE = 100
# Default cap on a decoded answer (KEEPA_MAX_RESPONSE_BYTES): a batch of 100 products with
# 30 days of history is a few MB.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
KEEPA_EPOCH_OFFSET_MINUTES = 21564000
IMAGE_URL = "https://m.media-amazon.com/images/I/"
# Product.java ProductType: 4 INVALID, 5 VARIATION_PARENT -- Keepa has no rank data.
NO_DATA_TYPES = {INVALID, VARIATION_PARENT}
GZIP_MAGIC = b"\x1f\x8b"
# /category takes up to 10 ids per request for the same token cost (Keepa's Request.java).
CATEGORY_IDS_PER_REQUEST = 10
# A name is never worth delaying an alert for: a lookup gets one short attempt.
CATEGORY_TIMEOUT_SECONDS = 5.0
CSV_AMAZON, CSV_NEW, CSV_SALES, CSV_RATING, CSV_REVIEWS = 0, 1, 3, 16, 17
# What a 200 body must hold to be usable, per endpoint.
# A category without a list comes back as an envelope without bestSellersList.
EXPECTED = {
    "product": ("products", list),
    "token": ("tokensLeft", int),
    "bestsellers": ("tokensLeft", int),
    "category": ("tokensLeft", int),
}
FINAL_STATUSES = {
    400: "Keepa rejected the request (HTTP 400 REQUEST_REJECTED): check KEEPA_API_KEY",
    402: "Keepa refused the request (HTTP 402 PAYMENT_REQUIRED): check the Keepa subscription",
}
TOKEN_FIELDS = {
    "tokens_consumed": "tokensConsumed",
    "tokens_left": "tokensLeft",
    "refill_in_ms": "refillIn",
    "refill_rate": "refillRate",
}
_TAG = re.compile(r"<[^>]*>")
IMAGE_FILE = re.compile(r"\.(jpe?g|png|gif|webp)$", re.IGNORECASE)


class KeepaOutOfTokens(KeepaError):
    """No tokens before the wait bound: stop fetching this pass and report what is unchecked."""

    def __init__(self, message: str, *, refill_in_ms: int) -> None:
        super().__init__(message, status=429, final=False)
        self.refill_in_ms = refill_in_ms


class TokenStatus(BaseModel):
    """Keepa's token bucket now: what a pass can spend, and how fast it refills (per minute)."""

    tokens_left: int
    refill_in_ms: int
    refill_rate: int


class CategoryNames(BaseModel):
    """What one /category request named, and what it cost."""

    names: dict[int, str]
    tokens_consumed: int | None


class _Retryable(KeepaError):
    """One failed attempt worth another try: transport, timeout, 5xx, 429, unreadable JSON."""

    def __init__(
        self, message: str, *, kind: str, status: int | None = None, refill_in_ms: int | None = None
    ) -> None:
        super().__init__(message, status=status, final=False)
        self.kind, self.refill_in_ms = kind, refill_in_ms


class _RedactRecord(logging.Filter):
    """httpx logs each request URL, key included, at INFO: mask it where it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


logging.getLogger("httpx").addFilter(_RedactRecord())


def keepa_time(minute: int) -> datetime:
    """Keepa minutes (since 2011-01-01) as a UTC datetime."""
    return datetime.fromtimestamp((minute + KEEPA_EPOCH_OFFSET_MINUTES) * 60, UTC)


def parse_product(raw: dict[str, Any], *, marketplace: str) -> ProductSnapshot:
    """One Keepa product as a snapshot. Pure; a field that is missing or unreadable stays None."""
    return _parse(raw, marketplace=marketplace, problems=[])


def _parse(raw: dict[str, Any], *, marketplace: str, problems: list[str]) -> ProductSnapshot:
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
    ranks, changed_at = _category_ranks(sales_ranks or {}, names or {}, problems)
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
        brand=raw.get("brand") if isinstance(raw.get("brand"), str) else None,
        image_url=_read(problems, "images", lambda: _image_url(raw)),
        last_update=_read(problems, "lastUpdate", lambda: keepa_time(int(raw["lastUpdate"]))),
        ranks_changed_at=changed_at,
        main_category_id=main_id,
        main_rank=_main_rank(main_id, ranks, series(CSV_SALES), problems),
        category_ranks=ranks,
        price_cents=new or amazon or None,
        rating=rating / 10 if rating is not None else None,
        review_count=_read(problems, "csv reviews", lambda: _last(series(CSV_REVIEWS))),
    )


def _tree_names(tree: list[Any]) -> dict[int, str]:
    """catId -> name of the categoryTree nodes that carry a name."""
    return {
        int(node["catId"]): str(node["name"])
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


def _number(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _category_ranks(
    sales_ranks: dict[str, Any], names: dict[int, str], problems: list[str]
) -> tuple[dict[int, CategoryRank], datetime | None]:
    """Current rank per category; -1 means not ranked, an empty series is left out (unknown).
    Also the newest rank point's time: the ranks are unchanged since then."""
    ranks: dict[int, CategoryRank] = {}
    newest: int | None = None
    for key, history in sales_ranks.items():
        try:
            if not history:
                continue
            category_id = int(key)
            ranks[category_id] = CategoryRank(
                category_id=category_id, name=names.get(category_id), rank=_last(history)
            )
            newest = max(newest or 0, int(history[-2]))
        except (TypeError, ValueError):
            problems.append(f"salesRanks[{key}] unreadable")
    return ranks, _keepa_time_or_none(newest)


def _clean_title(title: Any) -> str | None:
    if title is None:
        raise KeyError("title")
    text = " ".join(html.unescape(_TAG.sub(" ", str(title))).split())
    return text or None


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


class KeepaClient:
    """Synchronous Keepa client. Every HTTP call goes to `on_call`; retried attempts,
    incomplete products and ASINs Keepa left out go to `on_error`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        max_retries: int,
        retry_delay: float,
        max_token_wait_seconds: float,
        history_days: int,
        update_hours: int | None = None,
        on_call: Callable[[ApiCall], None] | None = None,
        on_error: Callable[[ErrorEvent], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] | None = None,
        deadline: float | None = None,
        stop: threading.Event | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """`timeout`: the most one request may take, in total (a server trickling bytes
        included). `deadline` (time.monotonic()): no request, retry or wait runs past it.
        `stop`: once set (SIGTERM), waits end and nothing is retried."""
        register_secret(api_key)
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._max_retries = max_retries
        exponential = tenacity.wait_exponential(multiplier=retry_delay, max=60)
        self._backoff = exponential + tenacity.wait_random(0, retry_delay)
        self._max_token_wait = max_token_wait_seconds
        self._history_days = history_days
        self._update_hours = update_hours
        self._on_call = on_call or (lambda call: None)
        self._on_error = on_error or (lambda error: None)
        self._stop = stop or threading.Event()
        self._sleep = sleep or self._stop.wait
        self._timeout = timeout
        self._deadline = deadline
        self._max_response_bytes = max_response_bytes
        self._http = httpx.Client(timeout=timeout, transport=transport)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        on_call: Callable[[ApiCall], None] | None = None,
        on_error: Callable[[ErrorEvent], None] | None = None,
        deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> "KeepaClient":
        """The client the settings describe; `deadline` and `stop` as in __init__."""
        return cls(
            api_key=settings.require_keepa_key(),
            base_url=settings.keepa_api_url,
            timeout=settings.api_timeout_seconds,
            max_retries=settings.max_retries,
            retry_delay=settings.retry_delay_seconds,
            max_token_wait_seconds=settings.keepa_max_token_wait_seconds,
            history_days=settings.keepa_history_days,
            update_hours=settings.keepa_update_hours,
            on_call=on_call,
            on_error=on_error,
            deadline=deadline,
            stop=stop,
            max_response_bytes=settings.keepa_max_response_bytes,
        )

    def fetch(self, asins: Sequence[str], *, marketplace: str) -> list[ProductSnapshot]:
        """Look up at most BATCH_SIZE ASINs in one request; each gets a snapshot, in order."""
        wanted = list(dict.fromkeys(asins))
        if len(wanted) > BATCH_SIZE:
            raise ValueError(f"Keepa takes at most {BATCH_SIZE} ASINs per request")
        if not wanted:
            return []
        market = normalize_marketplace(marketplace)
        # days trims histories but keeps each series' last point (the current rank), see
        # benchmarks/README.md; never history=0, whose salesRanks evidence conflicts.
        params: Params = {"domain": MARKETPLACES[market], "asin": ",".join(wanted)}
        params["days"] = self._history_days
        if self._update_hours is not None:  # may cost an extra token per refreshed product
            params["update"] = self._update_hours
        body = self._get("product", params, market, len(wanted))
        found: dict[str, ProductSnapshot] = {}
        for raw in body["products"]:
            problems: list[str] = []
            raw_product = raw if isinstance(raw, dict) else {}
            snapshot = _parse(raw_product, marketplace=market, problems=problems)
            if snapshot.asin not in wanted:
                self._error(
                    "unexpected_product", "Keepa sent a product that was not asked for", market
                )
                continue
            if problems:
                self._error("incomplete_product", "; ".join(problems), market, snapshot.asin)
            found[snapshot.asin] = snapshot
        for asin in [asin for asin in wanted if asin not in found]:
            self._error("missing_product", "Keepa returned no product for this ASIN", market, asin)
        log.debug("Keepa returned %d of %d products (%s)", len(found), len(wanted), market)
        return [
            found.get(asin)
            or ProductSnapshot(asin=asin, marketplace=market, available=False, missing=True)
            for asin in wanted
        ]

    def batches(
        self, asins: Sequence[str], *, marketplace: str, batch_size: int = BATCH_SIZE
    ) -> Iterator[tuple[list[str], list[ProductSnapshot]]]:
        """Fetch batch after batch, lazily, so the caller can stop between them."""
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {BATCH_SIZE}")
        wanted = list(dict.fromkeys(asins))
        for start in range(0, len(wanted), batch_size):
            batch = wanted[start : start + batch_size]
            yield batch, self.fetch(batch, marketplace=marketplace)

    def token_status(self) -> TokenStatus:
        """Tokens left and refill, from the free /token endpoint."""
        body = self._get("token", {})
        refill_in_ms, refill_rate = _number(body, "refillIn") or 0, _number(body, "refillRate") or 0
        return TokenStatus(
            tokens_left=body["tokensLeft"], refill_in_ms=refill_in_ms, refill_rate=refill_rate
        )

    def best_seller_list(self, category_id: int, *, marketplace: str) -> BestSellerList:
        """The category's list by sub-category rank (`sublist=1`), by current rank. Keepa's
        docs forbid `range` (as `month` and `year`) with `sublist`; current rank is the default."""
        market = normalize_marketplace(marketplace)
        params: Params = {"domain": MARKETPLACES[market], "category": category_id, "sublist": 1}
        body = self._get("bestsellers", params, market)
        listing = body.get("bestSellersList")
        listing = listing if isinstance(listing, dict) else {}
        asins = [asin for asin in listing.get("asinList") or [] if isinstance(asin, str)]
        updated = _number(listing, "lastUpdate")
        return BestSellerList(
            category_id=category_id,
            first_asin=asins[0] if asins else None,
            updated_at=keepa_time(updated) if updated and updated > 0 else None,
            tokens_consumed=_number(body, "tokensConsumed"),
        )

    def category_names(self, category_ids: Sequence[int], *, marketplace: str) -> CategoryNames:
        """Names of up to CATEGORY_IDS_PER_REQUEST categories from one /category request.

        Asked once, never retried or waited for: a name must not delay an alert. A category
        Keepa does not know is absent from the answer."""
        ids = list(dict.fromkeys(category_ids))
        if not 1 <= len(ids) <= CATEGORY_IDS_PER_REQUEST:
            raise ValueError(f"ask for 1 to {CATEGORY_IDS_PER_REQUEST} categories per request")
        market = normalize_marketplace(marketplace)
        params: Params = {
            "domain": MARKETPLACES[market],
            "category": ",".join(map(str, ids)),
            "parents": 0,
        }
        body = self._attempt(
            "category", params, market, 0, timeout=min(self._timeout, CATEGORY_TIMEOUT_SECONDS)
        )
        found = body.get("categories")
        names: dict[int, str] = {}
        for key, entry in (found if isinstance(found, dict) else {}).items():
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.strip() and str(key).isdigit():
                names[int(key)] = name.strip()
        return CategoryNames(names=names, tokens_consumed=_number(body, "tokensConsumed"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, endpoint: str, params: Params, market: str | None = None, count: int = 0) -> Any:
        """GET with retries: transport, 5xx, 429 and bad JSON are retried; 4xx are final."""

        def report_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s; retrying (attempt %d)", exc, state.attempt_number)
            kind = getattr(exc, "kind", "retry")
            status = getattr(exc, "status", None)
            self._error(
                kind, f"{exc}; retrying", market, attempt=state.attempt_number, status=status
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_retries + 1)
            | tenacity.stop_when_event_set(self._stop)
            | (lambda state: self._seconds_left() <= 0),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            before_sleep=report_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(endpoint, params, market, count)
        except _Retryable as exc:
            tries = f"after {self._max_retries + 1} attempts"
            if self._stop.is_set() or self._seconds_left() <= 0:
                tries = "(no retry: the pass is stopping)"
            if exc.refill_in_ms is not None:
                raise KeepaOutOfTokens(f"{exc} {tries}", refill_in_ms=exc.refill_in_ms) from None
            raise KeepaError(f"{exc} {tries}", status=exc.status, final=False) from None
        raise AssertionError("unreachable: tenacity returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        """refillIn + 100 ms after a 429 (as Keepa's Java client does), else backoff + jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.refill_in_ms is not None:
            wait = exc.refill_in_ms / 1000 + 0.1
        else:
            wait = self._backoff(state)
        return max(0.0, min(wait, self._seconds_left()))

    def _seconds_left(self) -> float:
        """Until the run's deadline (infinite without one)."""
        return float("inf") if self._deadline is None else self._deadline - time.monotonic()

    def _attempt(
        self,
        endpoint: str,
        params: Params,
        market: str | None,
        count: int,
        *,
        timeout: float | None = None,
    ) -> Any:
        """One HTTP call, reported to on_call; raises our own errors, never httpx's.
        `timeout` shortens the client's own for this call. Either is the call's total."""
        called_at, started = datetime.now(UTC), time.monotonic()

        def report(status: int | None, body: dict[str, Any]) -> None:
            tokens = {ours: _number(body, theirs) for ours, theirs in TOKEN_FIELDS.items()}
            duration_ms = int((time.monotonic() - started) * 1000)
            call = ApiCall(
                endpoint=endpoint,
                marketplace=market,
                asin_count=count,
                **tokens,
                http_status=status,
                duration_ms=duration_ms,
                called_at=called_at,
            )
            self._on_call(call)

        url = f"{self._base}/{endpoint}"
        budget = min(self._timeout if timeout is None else timeout, self._seconds_left())
        if budget <= 0:
            report(None, {})
            raise KeepaError("the run deadline (RUN_DEADLINE_MINUTES) is reached")
        failure: KeepaError | None = None
        data_cap = self._max_response_bytes
        try:
            # Each read waits at most `budget`, and the body is read in chunks against the
            # request's total: a server trickling bytes cannot keep it open.
            with self._http.stream(
                "GET", url, params={"key": self._key, **params}, timeout=budget
            ) as response:
                data = self._read_body(response, started=started, budget=budget)
                status, body = response.status_code, _json_body(data, max_bytes=data_cap)
        except httpx.InvalidURL:
            failure = KeepaError("KEEPA_API_URL is not a valid URL")
        except httpx.HTTPError as exc:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"
            detail = redact(f"{type(exc).__name__}: {exc}")
            failure = _Retryable(f"Keepa could not be reached ({detail})", kind=kind)
        except KeepaError as exc:
            failure = exc
        if failure:  # raised outside the except block: no httpx exception (URL, key) in its chain
            report(None, {})
            raise failure
        report(status, body)
        # A refill later than the deadline is not waited for either: out of tokens now.
        max_wait = max(0.0, min(self._max_token_wait, self._seconds_left()))
        failure = _failure(status, body, endpoint, max_wait)
        if failure:
            raise failure
        return body

    def _read_body(self, response: httpx.Response, *, started: float, budget: float) -> bytes:
        """The decoded body, or our error once it passes the size cap or the time budget."""
        too_big = KeepaError(too_large(self._max_response_bytes))
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if declared.isdigit() and not encoded and int(declared) > self._max_response_bytes:
            raise too_big
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_response_bytes:
                raise too_big
            if time.monotonic() > started + budget:
                raise _Retryable(
                    f"Keepa's answer took longer than {budget:.3g}s in total (the request's"
                    " limit: API_TIMEOUT_SECONDS, or what was left before the run deadline)",
                    kind="timeout",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _error(
        self, kind: str, message: str, market: str | None, asin: str | None = None, **context: Any
    ) -> None:
        message = redact(message)
        self._on_error(
            ErrorEvent(
                source="keepa",
                kind=kind,
                message=message,
                asin=asin,
                marketplace=market,
                context=context,
            )
        )


def _json_body(content: bytes, *, max_bytes: int) -> dict[str, Any]:
    """The JSON object of a body; {} if unreadable. A gzip body that came without a
    Content-Encoding header (magic bytes 1f 8b) is decoded here, as httpx cannot know, up
    to `max_bytes` (then KeepaError)."""
    try:
        if content[:2] == GZIP_MAGIC:
            inflate = zlib.decompressobj(wbits=31)
            content = inflate.decompress(content, max_bytes + 1)
            if len(content) > max_bytes:
                raise KeepaError(too_large(max_bytes))
        body = json.loads(content)
    except (zlib.error, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def too_large(max_bytes: int) -> str:
    return (
        f"Keepa's answer is larger than {max_bytes:,} bytes (KEEPA_MAX_RESPONSE_BYTES);"
        " try a smaller BATCH_SIZE or KEEPA_HISTORY_DAYS"
    )


def _failure(status: int, body: dict[str, Any], endpoint: str, max_wait: float) -> Exception | None:
    """What a response means: None if usable, else the error to raise (retryable or final)."""
    if status == 200:
        field, kind = EXPECTED[endpoint]
        if isinstance(body.get(field), kind):
            return None
        return _Retryable(
            "Keepa sent malformed or truncated JSON", kind="malformed_json", status=200
        )
    if status == 429:
        refill_in_ms = max(_number(body, "refillIn") or 0, 0)
        if refill_in_ms / 1000 > max_wait:
            message = (
                f"Keepa is out of tokens: the next refill is in {refill_in_ms / 1000:.0f}s,"
                f" over the {max_wait:.0f}s wait limit"
            )
            return KeepaOutOfTokens(message, refill_in_ms=refill_in_ms)
        message = "Keepa is out of tokens (HTTP 429)"
        return _Retryable(message, kind="no_tokens", status=429, refill_in_ms=refill_in_ms)
    if status >= 500:
        return _Retryable(f"Keepa answered HTTP {status}", kind="http_error", status=status)
    if status in FINAL_STATUSES:
        return KeepaAuthError(FINAL_STATUSES[status], status=status)
    return KeepaError(f"Keepa answered HTTP {status}", status=status)
