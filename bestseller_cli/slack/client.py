"""Slack delivery that a lost answer cannot double. The messages are built in `messages`.

`SlackSender` posts them with metadata naming
the outbox ids they carry, so a message whose answer was lost is found again in the
channel's history instead of being posted twice (see DELIVERY.md).
"""

import http.client
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

from bestseller_cli.config import Settings
from bestseller_cli.errors import ConfigError, DeliveryUnknown, SlackError
from bestseller_cli.escape import without_controls
from bestseller_cli.redact import redact, register_secret
from bestseller_cli.retry import with_retries
from bestseller_cli.slack.messages import SlackMessage, as_utc

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENT_TYPE = "bestseller_alert"
MAX_ALT_TEXT = 1000  # Slack's limit on a file's alt text
# How far before the first attempt to read history for a post whose answer was lost.
_CLOCK_MARGIN = timedelta(minutes=10)
# `ok: false` codes worth retrying; every other code is permanent.
_RETRYABLE_CODES = frozenset({"internal_error", "service_unavailable", "request_timeout"})
# Refusals that no message to any channel can get past until the token is fixed, and those
# that stop every message to one channel until the bot is invited or the channel fixed.
TOKEN_REFUSALS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
    | {"missing_scope", "no_permission", "not_allowed_token_type", "team_access_not_granted"}
)
CHANNEL_REFUSALS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
_HINTS = {
    **dict.fromkeys(TOKEN_REFUSALS, "fix SLACK_BOT_TOKEN or the app's scopes"),
    **dict.fromkeys(CHANNEL_REFUSALS, "invite the bot to the channel or fix the channel id"),
}


class SlackDeliveryUnknown(SlackError, DeliveryUnknown):
    """Slack may have posted the message, but it did not answer and its history could not be
    read: leave the outbox rows `sending` so that the next run reconciles them."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class _Retryable(SlackError):
    """Slack could not be reached or had a server error: worth another attempt."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class _AnswerLost(_Retryable):
    """The request reached Slack but no answer came back: it may have been carried out."""


class SlackSender:
    """Posts, finds and updates alert messages through slack-sdk's WebClient."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str = WebClient.BASE_URL,
        timeout_seconds: float = 30.0,
        max_retries: int = 3,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        register_secret(token)
        # slack-sdk retries only 429 (honouring Retry-After); connection errors and 5xx are
        # retried by `_retrying`, so no failure is retried by two mechanisms.
        rate_limits = RateLimitErrorRetryHandler(max_retry_count=max_retries)
        self._client = WebClient(
            token=token, base_url=api_url, timeout=timeout_seconds, retry_handlers=[rate_limits]
        )
        self._max_retries = max_retries
        self._retry_delay = retry_delay_seconds
        self._own: tuple[str | None, str | None] | None = None  # (bot_id, user_id): auth.test

    @classmethod
    def from_settings(cls, settings: Settings) -> "SlackSender":
        if not settings.slack_bot_token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: put the bot token (xoxb-…) in the environment or .env"
            )
        return cls(
            token=settings.slack_bot_token,
            api_url=settings.slack_api_url,
            timeout_seconds=settings.api_timeout_seconds,
            max_retries=settings.max_retries,
            retry_delay_seconds=settings.retry_delay_seconds,
        )

    def post(
        self,
        *,
        channel: str,
        message: SlackMessage,
        outbox_ids: Sequence[int],
        mark: str | None = None,
    ) -> str:
        """Post a message marked with the outbox ids it carries (and a `mark`, for a message
        no outbox row records: see `marked`); return Slack's `ts`.

        When the connection drops after the request reached Slack, the channel's history is
        read before trying again, so a message Slack did take is never posted twice."""
        since = datetime.now(UTC) - _CLOCK_MARGIN
        payload = {"ids": _encode_ids(outbox_ids)} | ({"mark": mark} if mark else {})
        metadata = {"event_type": EVENT_TYPE, "event_payload": payload}

        def attempt() -> str:
            try:
                response = self._call(
                    "chat.postMessage",
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except _AnswerLost:
                ts = self._find_lost_post(channel=channel, outbox_ids=outbox_ids, since=since)
                if ts is None:
                    raise
                log.info("Slack took outbox ids %s as %s; its answer was lost", outbox_ids, ts)
                return ts
            return str(response["ts"])

        return self._retrying(attempt)

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        """Outbox id -> `ts` of every alert message in `channel` since `oldest`."""
        found: dict[int, str] = {}
        for message in self._history(channel=channel, oldest=oldest):
            for outbox_id in _outbox_ids(message.get("metadata")):
                found[outbox_id] = str(message["ts"])  # newest first: the oldest wins
        return found

    def marked(self, *, channel: str, mark: str, oldest: datetime) -> str | None:
        """The `ts` of a message of ours posted with `mark` in `channel` since `oldest`."""
        for message in self._history(channel=channel, oldest=oldest):
            metadata = message.get("metadata")
            if isinstance(metadata, dict) and metadata.get("event_type") == EVENT_TYPE:
                payload = metadata.get("event_payload")
                if isinstance(payload, dict) and payload.get("mark") == mark:
                    return str(message["ts"])
        return None

    def _history(self, *, channel: str, oldest: datetime) -> Iterator[dict[str, Any]]:
        """This token's bot's messages in the channel since `oldest`, newest first, every
        page. Any app in the channel can post our metadata: only our own bot's is trusted."""
        ours = self._is_ours
        cursor: str | None = None
        while True:
            page = self._request(
                "conversations.history",
                channel=channel,
                oldest=f"{as_utc(oldest).timestamp():.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            yield from (message for message in page.get("messages") or [] if ours(message))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def update(self, *, channel: str, ts: str, message: SlackMessage) -> None:
        """Replace a posted message's text and blocks (its metadata stays)."""
        self._request(
            "chat.update", channel=channel, ts=ts, text=message.text, blocks=message.blocks
        )

    def _is_ours(self, message: dict[str, Any]) -> bool:
        """Posted by this token's bot: its bot_id, or (when auth.test names none) its user."""
        if self._own is None:
            response = self._request("auth.test")  # once per sender, that is per pass
            self._own = (response.get("bot_id"), response.get("user_id"))
        bot_id, user_id = self._own
        if bot_id:
            return message.get("bot_id") == bot_id
        return user_id is not None and message.get("user") == user_id

    def check_auth(self) -> str:
        """`team / bot user` for the token, or a SlackError saying why it is refused."""
        response = self._request("auth.test")
        return f"{response.get('team', '?')} / {response.get('user', '?')}"

    def upload_chart(
        self, *, channel: str, thread_ts: str, png: bytes, title: str, alt: str
    ) -> None:
        """Post a PNG into the thread of message `thread_ts` (scope files:write). Tried once,
        never again: a lost answer is not repeated, so a chart is posted at most once. Its
        title and alt text are plain text: no control character."""
        self._call(
            "files_upload_v2",
            channel=channel,
            thread_ts=thread_ts,
            file=png,
            filename="rank-chart.png",
            title=without_controls(title),
            alt_txt=without_controls(alt)[:MAX_ALT_TEXT],
            request_file_info=False,
        )

    def scopes(self) -> set[str] | None:
        """The token's scopes, as auth.test lists them (x-oauth-scopes); None if unsaid."""
        response = self._request("auth.test")
        listed = {name.lower(): value for name, value in (response.headers or {}).items()}
        header = listed.get("x-oauth-scopes")
        return None if header is None else {s.strip() for s in header.split(",") if s.strip()}

    def is_member(self, channel: str) -> bool:
        response = self._request("conversations.info", channel=channel)
        return bool((response.get("channel") or {}).get("is_member", False))

    def _find_lost_post(
        self, *, channel: str, outbox_ids: Sequence[int], since: datetime
    ) -> str | None:
        if not outbox_ids:
            return None
        try:
            found = self.delivered(channel=channel, oldest=since)
        except SlackError as exc:
            raise SlackDeliveryUnknown(
                f"Slack did not answer chat.postMessage to {channel} and its history could not"
                f" be read to see whether the message arrived: {exc}"
            ) from None
        return next((found[i] for i in outbox_ids if i in found), None)

    def _request(self, method: str, **arguments: Any) -> SlackResponse:
        return self._retrying(lambda: self._call(method, **arguments))

    def _retrying(self, attempt: Callable[[], T]) -> T:
        return with_retries(
            attempt,
            retryable=_Retryable,
            max_retries=self._max_retries,
            delay=self._retry_delay,
            log=log,
        )

    def _call(self, method: str, **arguments: Any) -> SlackResponse:
        """One call (slack-sdk waits out 429s); failures become SlackError without the token."""
        try:
            return getattr(self._client, method.replace(".", "_"))(**arguments)
        except SlackApiError as exc:
            raise _api_error(method, exc.response) from None
        except URLError as exc:  # raised before the request was fully sent
            raise _Retryable(
                f"could not reach Slack ({method}): {redact(str(exc.reason))}"
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # sent, but no answer
            reason = redact(str(exc)) or type(exc).__name__
            raise _AnswerLost(f"Slack did not answer {method}: {reason}") from None
        except SlackClientError as exc:
            raise SlackError(f"Slack {method} failed: {redact(str(exc))}", permanent=True) from None


def _api_error(method: str, response: SlackResponse) -> SlackError:
    status = response.status_code
    code = str(response.get("error") or "") if isinstance(response.data, dict) else ""
    if status == 429 or code == "ratelimited":
        return SlackError(f"Slack {method} is rate limited (HTTP 429)", permanent=False)
    if status >= 500 or status == 408:
        return _Retryable(f"Slack {method} failed: HTTP {status}")
    if status != 200:
        return SlackError(f"Slack {method} failed: HTTP {status}", permanent=True)
    if code == "fatal_error":  # Slack: part of the operation may have succeeded
        return _AnswerLost(f"Slack {method} failed: {code}")
    if code in _RETRYABLE_CODES:
        return _Retryable(f"Slack {method} failed: {code}")
    needed = response.get("needed")
    detail = f" (needs the {needed} scope)" if needed else ""
    hint = f": {_HINTS[code]}" if code in _HINTS else ""
    message = f"Slack {method} failed: {code or 'unknown_error'}{detail}{hint}"
    refuses = (
        "everything" if code in TOKEN_REFUSALS else "channel" if code in CHANNEL_REFUSALS else None
    )
    return SlackError(redact(message), permanent=True, code=code or None, refuses=refuses)


def _encode_ids(outbox_ids: Sequence[int]) -> str:
    return ",".join(str(int(outbox_id)) for outbox_id in outbox_ids)


def _outbox_ids(metadata: object) -> list[int]:
    """The outbox ids an alert's metadata names; none for anyone else's metadata."""
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return []
    payload = metadata.get("event_payload")
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if not isinstance(ids, str):
        return []
    return [int(part) for part in ids.split(",") if part.strip().isdigit()]
