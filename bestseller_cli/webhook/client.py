"""One signed POST to a webhook (Standard Webhooks 1.0), through httpx, retried with
tenacity like the Keepa and Slack clients.

Headers: `webhook-id` (the alert's idempotency key: the same on every retry, so the
receiver deduplicates), `webhook-timestamp` and `webhook-signature` (`v1,` + base64
HMAC-SHA256 over `id.timestamp.body`, made by the `standardwebhooks` reference library).
The URL is a secret: it is registered with `redact` and never appears whole in an error.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from bestseller_cli.errors import ConfigError, DeliveryUnknown, WebhookError
from bestseller_cli.redact import redact, register_secret, shown_url
from bestseller_cli.retry import with_retries

log = logging.getLogger(__name__)


class _Retryable(WebhookError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class WebhookUnknown(WebhookError, DeliveryUnknown):
    """The request was sent and no answer came back, every time: it may have arrived."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class WebhookSender:
    """Signs and POSTs bodies; a 4xx other than 408/429 is a refusal, the rest is retried."""

    def __init__(
        self,
        *,
        secret: str | None,
        timeout_seconds: float = 30.0,
        max_retries: int = 3,
        retry_delay_seconds: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        register_secret(secret)
        self._signer = Webhook(secret) if secret else None
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        self._max_retries = max_retries
        self._retry_delay = retry_delay_seconds
        self._clock = clock

    def close(self) -> None:
        self._client.close()

    def send(self, *, url: str, webhook_id: str, body: bytes) -> int:
        """POST `body` signed under `webhook_id`; the receiver's HTTP status (2xx)."""
        if self._signer is None:
            raise ConfigError("WEBHOOK_SECRET is not set: give it the whsec_… secret to sign with")
        register_secret(url)
        lost = False

        def attempt() -> int:
            nonlocal lost
            now = self._clock()
            headers = {
                "content-type": "application/json",
                "webhook-id": webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(webhook_id, now, body),  # type: ignore[union-attr]
            }
            try:
                response = self._client.post(url, content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise _Retryable(f"could not reach the webhook {shown_url(url)}: {exc}") from None
            except httpx.TransportError as exc:
                lost = True  # sent, perhaps taken, but no answer
                reason = redact(str(exc)) or type(exc).__name__
                raise _Retryable(f"the webhook {shown_url(url)} did not answer: {reason}") from None
            return _judge(url, response.status_code)

        try:
            return self._retrying(attempt)
        except _Retryable as exc:
            if lost:
                raise WebhookUnknown(str(exc)) from None
            raise

    def _retrying(self, attempt: Callable[[], int]) -> int:
        return with_retries(
            attempt,
            retryable=_Retryable,
            max_retries=self._max_retries,
            delay=self._retry_delay,
            log=log,
        )


def _judge(url: str, status: int) -> int:
    where = f"the webhook {shown_url(url)}"
    if 200 <= status < 300:
        return status
    if status in {408, 429} or status >= 500:
        raise _Retryable(f"{where} answered HTTP {status}")
    # A refusal: asking again changes nothing until someone fixes the URL or the receiver.
    return_code = f"http_{status}"
    raise WebhookError(
        f"{where} refused the alert: HTTP {status}",
        permanent=True,
        code=return_code,
        refuses="channel",
    )
