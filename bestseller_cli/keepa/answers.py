"""What a Keepa answer means: its envelope per endpoint, its HTTP status, a gzip body sent
without its header, and the errors each case raises (retryable or final)."""

import json
import zlib
from typing import Any

from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.payload import number

GZIP_MAGIC = b"\x1f\x8b"
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


class KeepaOutOfTokens(KeepaError):
    """No tokens before the wait bound: stop fetching this pass and report what is unchecked."""

    def __init__(self, message: str, *, refill_in_ms: int) -> None:
        super().__init__(message, status=429, final=False)
        self.refill_in_ms = refill_in_ms


class Retryable(KeepaError):
    """One failed attempt worth another try: transport, timeout, 5xx, 429, unreadable JSON."""

    def __init__(
        self, message: str, *, kind: str, status: int | None = None, refill_in_ms: int | None = None
    ) -> None:
        super().__init__(message, status=status, final=False)
        self.kind, self.refill_in_ms = kind, refill_in_ms


def json_body(content: bytes, *, max_bytes: int) -> dict[str, Any]:
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


def failure_of(
    status: int, body: dict[str, Any], endpoint: str, max_wait: float
) -> Exception | None:
    """What a response means: None if usable, else the error to raise (retryable or final)."""
    if status == 200:
        field, kind = EXPECTED[endpoint]
        if isinstance(body.get(field), kind):
            return None
        return Retryable(
            "Keepa sent malformed or truncated JSON", kind="malformed_json", status=200
        )
    if status == 429:
        refill_in_ms = max(number(body, "refillIn") or 0, 0)
        if refill_in_ms / 1000 > max_wait:
            message = (
                f"Keepa is out of tokens: the next refill is in {refill_in_ms / 1000:.0f}s,"
                f" over the {max_wait:.0f}s wait limit"
            )
            return KeepaOutOfTokens(message, refill_in_ms=refill_in_ms)
        message = "Keepa is out of tokens (HTTP 429)"
        return Retryable(message, kind="no_tokens", status=429, refill_in_ms=refill_in_ms)
    if status >= 500:
        return Retryable(f"Keepa answered HTTP {status}", kind="http_error", status=status)
    if status in FINAL_STATUSES:
        return KeepaAuthError(FINAL_STATUSES[status], status=status)
    return KeepaError(f"Keepa answered HTTP {status}", status=status)
