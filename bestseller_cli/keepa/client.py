"""Keepa's HTTP client: product lookups in batches, token waits, retries, deadlines. What an
answer means is `answers`; how its JSON maps to our models is `payload`.

Keepa takes the API key in the query string, so no URL, httpx exception or raw response text
leaves this module: every message is built here from redacted text.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import httpx
import tenacity
from tenacity import RetryCallState

from bestseller_cli.config import MARKETPLACES, Settings, normalize_marketplace
from bestseller_cli.errors import KeepaError
from bestseller_cli.keepa import payload
from bestseller_cli.keepa.answers import (
    TOKEN_FIELDS,
    KeepaOutOfTokens,
    Retryable,
    failure_of,
    json_body,
    too_large,
)
from bestseller_cli.keepa.payload import CategoryNames, TokenStatus
from bestseller_cli.models import ApiCall, BestSellerList, ErrorEvent, ProductSnapshot
from bestseller_cli.redact import redact, register_secret
from bestseller_cli.retry import backoff

log = logging.getLogger(__name__)
Params = dict[str, str | int]

BATCH_SIZE = 100
# Default cap on a decoded answer (KEEPA_MAX_RESPONSE_BYTES): a batch of 100 products with
# 30 days of history is a few MB.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# /category takes up to 10 ids per request for the same token cost (Keepa's Request.java).
CATEGORY_IDS_PER_REQUEST = 10
# A name is never worth delaying an alert for: a lookup gets one short attempt.
CATEGORY_TIMEOUT_SECONDS = 5.0


class _RedactRecord(logging.Filter):
    """httpx logs each request URL, key included, at INFO: mask it where it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


logging.getLogger("httpx").addFilter(_RedactRecord())


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`timeout`: the most one request may take, in total (a server trickling bytes
        included). `deadline` (time.monotonic()): no request, retry or wait runs past it.
        `stop`: once set (SIGTERM), waits end and nothing is retried. `clock` dates each
        call (the pass's: the budget counts what the last hour spent)."""
        register_secret(api_key)
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._max_retries = max_retries
        self._backoff = backoff(retry_delay)
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
        self._clock = clock
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
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> "KeepaClient":
        """The client the settings describe; `deadline`, `stop`, `transport` and `clock`
        as in __init__."""
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
            transport=transport,
            **({"clock": clock} if clock else {}),
        )

    def fetch(
        self,
        asins: Sequence[str],
        *,
        marketplace: str,
        days: int | None = None,
        live: bool = False,
    ) -> list[ProductSnapshot]:
        """Look up at most BATCH_SIZE ASINs in one request; each gets a snapshot, in order.
        `days`: the rank series reach back this far at least (the time since the batch's
        oldest check), KEEPA_HISTORY_DAYS when more. `live`: ask for live data (`update=0`,
        one more token per product Keepa refreshed within the hour) instead of
        KEEPA_UPDATE_HOURS."""
        wanted = list(dict.fromkeys(asins))
        if len(wanted) > BATCH_SIZE:
            raise ValueError(f"Keepa takes at most {BATCH_SIZE} ASINs per request")
        if not wanted:
            return []
        market = normalize_marketplace(marketplace)
        # days trims histories but keeps each series' last point (the current rank), see
        # benchmarks/README.md; never history=0, whose salesRanks evidence conflicts.
        params: Params = {"domain": MARKETPLACES[market], "asin": ",".join(wanted)}
        params["days"] = max(self._history_days, days or 0)
        # Keepa answers from its cache unless its data is older than `update` hours.
        update = 0 if live else self._update_hours
        if update is not None:  # 0 may cost an extra token per refreshed product
            params["update"] = update
        body = self._get("product", params, market, len(wanted))
        found: dict[str, ProductSnapshot] = {}
        for raw in body["products"]:
            problems: list[str] = []
            raw_product = raw if isinstance(raw, dict) else {}
            snapshot = payload.read_product(raw_product, marketplace=market, problems=problems)
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
        return payload.token_status(self._get("token", {}))

    def best_seller_list(self, category_id: int, *, marketplace: str) -> BestSellerList:
        """The category's list by sub-category rank (`sublist=1`), by current rank. Keepa's
        docs forbid `range` (as `month` and `year`) with `sublist`; current rank is the default."""
        market = normalize_marketplace(marketplace)
        params: Params = {"domain": MARKETPLACES[market], "category": category_id, "sublist": 1}
        body = self._get("bestsellers", params, market)
        return payload.best_seller_list(body, category_id=category_id)

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
        return payload.category_names(body)

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
            retry=tenacity.retry_if_exception_type(Retryable),
            before_sleep=report_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(endpoint, params, market, count)
        except Retryable as exc:
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
        if isinstance(exc, Retryable) and exc.refill_in_ms is not None:
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
        called_at, started = self._clock(), time.monotonic()

        def report(status: int | None, body: dict[str, Any]) -> None:
            tokens = {ours: payload.number(body, theirs) for ours, theirs in TOKEN_FIELDS.items()}
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
                status, body = response.status_code, json_body(data, max_bytes=data_cap)
        except httpx.InvalidURL:
            failure = KeepaError("KEEPA_API_URL is not a valid URL")
        except httpx.HTTPError as exc:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport"
            detail = redact(f"{type(exc).__name__}: {exc}")
            failure = Retryable(f"Keepa could not be reached ({detail})", kind=kind)
        except KeepaError as exc:
            failure = exc
        if failure:  # raised outside the except block: no httpx exception (URL, key) in its chain
            report(None, {})
            raise failure
        report(status, body)
        # A refill later than the deadline is not waited for either: out of tokens now.
        max_wait = max(0.0, min(self._max_token_wait, self._seconds_left()))
        failure = failure_of(status, body, endpoint, max_wait)
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
                raise Retryable(
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
