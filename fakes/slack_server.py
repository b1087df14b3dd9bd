"""A fake Slack Web API on 127.0.0.1, served over real HTTP.

slack-sdk in the test process and `bestseller` in a child process talk to it as they would
to Slack: give them `server.base_url` (`http://127.0.0.1:PORT/api/`). It records every
request, keeps posted messages per channel with their ts and metadata and files shared into
them (files.getUploadURLExternal, the upload to the URL it gives, then
files.completeUploadExternal, as slack-sdk's files_upload_v2 makes them), and can be scripted
per method to fail: HTTP 429 with Retry-After, HTTP 5xx, `ok: false` errors, or carrying out
the call and then dropping the connection without answering (DELIVERY.md's crash window).

Tests get a fresh one per test from the `slack_server` fixture (tests/conftest.py).
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fakes.loopback import LoopbackServer

# Slack's Block Kit limits, enforced as Slack does (invalid_blocks / msg_too_long).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_MESSAGE_TEXT = 40_000
_JSON_FIELDS = ("blocks", "attachments", "metadata", "files")
# What auth.test says the token may do (its x-oauth-scopes header), unless a test says less.
DEFAULT_SCOPES = ("chat:write", "channels:history", "channels:read", "files:write")


@dataclass
class RecordedRequest:
    method: str  # Slack API method, e.g. "chat.postMessage"
    params: dict[str, Any]  # query string, form and JSON body merged
    headers: dict[str, str]

    @property
    def token(self) -> str | None:
        bearer = self.headers.get("Authorization", "")
        return bearer.removeprefix("Bearer ") if bearer else self.params.get("token")


@dataclass
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    edits: int = 0
    # Who posted it, as history shows it: the token's bot for chat.postMessage.
    bot_id: str | None = None
    user: str | None = None

    @property
    def outbox_ids(self) -> list[int]:
        payload = (self.metadata or {}).get("event_payload") or {}
        return [int(part) for part in str(payload.get("ids", "")).split(",") if part]

    def as_history(self, *, with_metadata: bool) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        message |= {"blocks": self.blocks, "user": self.user}
        if self.bot_id:
            message["bot_id"] = self.bot_id
        if with_metadata and self.metadata:
            message["metadata"] = self.metadata
        return message


@dataclass
class SharedFile:
    """A file uploaded to the URL files.getUploadURLExternal gave; shared into `channel`
    (in the thread of `thread_ts`) once completed."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes = b""
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None


@dataclass
class _Scripted:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None
    drop: bool = False
    times: int | None = 1  # None: every call from now on


class FakeSlack(LoopbackServer):
    """The fake server's state and scripting; see the module docstring."""

    def __init__(self, *, history_page_size: int = 100) -> None:
        self.history_page_size = history_page_size
        self.expected_token: str | None = None  # when set, other tokens get invalid_auth
        self.not_member_of: set[str] = set()  # channels where conversations.info says no
        # channel -> the `ok: false` error chat.postMessage gives there (e.g. not_in_channel)
        self.channel_errors: dict[str, str] = {}
        self.scopes = list(DEFAULT_SCOPES)
        self.fail_uploads = False  # the upload URL answers HTTP 500
        self._files: dict[str, SharedFile] = {}
        self.team = "Fake Team"
        self.bot_user = "bestseller"
        # The token's bot, as auth.test names it; chat.postMessage posts as it.
        self.bot_id, self.bot_user_id = "B0FAKE", "U0FAKE"
        self.requests: list[RecordedRequest] = []
        self._messages: list[PostedMessage] = []
        self._scripts: dict[str, list[_Scripted]] = {}
        self._last_ts_us = 0
        self._lock = threading.Lock()
        super().__init__(_make_handler(self))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # -- scripting: queued per method, used in order, each for `times` calls ----------------

    def fail_http(
        self, method: str, status: int, *, times: int | None = 1, retry_after: int | None = None
    ) -> None:
        """Answer `method` with HTTP `status` (429 with Retry-After when `retry_after` given)."""
        error = "ratelimited" if status == 429 else "service_unavailable"
        body = {"ok": False, "error": error}
        self._script(method, _Scripted(status, body, retry_after=retry_after, times=times))

    def rate_limit(self, method: str, *, retry_after: int = 0, times: int = 1) -> None:
        self.fail_http(method, 429, times=times, retry_after=retry_after)

    def fail_with(self, method: str, error: str, *, times: int | None = None, **extra: Any) -> None:
        """Answer `ok: false` with `error` (and extra fields, e.g. needed="channels:history")."""
        self._script(method, _Scripted(body={"ok": False, "error": error, **extra}, times=times))

    def drop_after_recording(self, method: str = "chat.postMessage", *, times: int = 1) -> None:
        """Carry the call out (a post is recorded), then close the connection unanswered."""
        self._script(method, _Scripted(drop=True, times=times))

    def _script(self, method: str, scripted: _Scripted) -> None:
        with self._lock:
            self._scripts.setdefault(method, []).append(scripted)

    # -- reading what happened ---------------------------------------------------------------

    def calls(self, method: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.method == method]

    def messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Posted messages, oldest first; only `channel`'s when given."""
        with self._lock:
            return [m for m in self._messages if channel is None or m.channel == channel]

    def files(self, channel: str | None = None) -> list[SharedFile]:
        """Files shared (upload completed), oldest first; only `channel`'s when given."""
        with self._lock:
            shared = [f for f in self._files.values() if f.channel is not None]
            return [f for f in shared if channel is None or f.channel == channel]

    def add_message(
        self,
        channel: str,
        text: str = "hello",
        *,
        metadata: dict[str, Any] | None = None,
        bot_id: str | None = None,
        user: str = "U0PERSON",
    ) -> PostedMessage:
        """Seed the channel's history, as if someone else had posted: a person, or another
        app when `bot_id` is given (with any metadata, an alert's too)."""
        with self._lock:
            message = PostedMessage(
                channel, self._next_ts(), text, [], metadata, bot_id=bot_id, user=user
            )
            self._messages.append(message)
            return message

    # -- the API ----------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> tuple[_Scripted | None, dict[str, Any]]:
        """Record a request; return its script step (if any) and the body to answer with."""
        with self._lock:
            self.requests.append(request)
            scripted = self._next_script(request.method)
            if scripted and not scripted.drop:
                return scripted, scripted.body
            if self.expected_token and request.token != self.expected_token:
                return scripted, {"ok": False, "error": "invalid_auth"}
            handler = getattr(self, "_api_" + request.method.replace(".", "_"), None)
            if handler is None:
                return scripted, {"ok": False, "error": "unknown_method"}
            return scripted, handler(request.params)

    def _next_script(self, method: str) -> _Scripted | None:
        queue = self._scripts.get(method)
        if not queue:
            return None
        scripted = queue[0]
        if scripted.times is not None:
            scripted.times -= 1
            if scripted.times <= 0:
                queue.pop(0)
        return scripted

    def _next_ts(self) -> str:
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, text, blocks = (
            params.get("channel"),
            params.get("text") or "",
            params.get("blocks"),
        )
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if problem := _message_problem(text, blocks or []):
            return {"ok": False, "error": problem}
        message = PostedMessage(
            channel,
            self._next_ts(),
            text,
            blocks or [],
            params.get("metadata"),
            bot_id=self.bot_id,
            user=self.bot_user_id,
        )
        self._messages.append(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": {"text": text}}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        found = [
            m
            for m in self._messages
            if (m.channel, m.ts) == (params.get("channel"), params.get("ts"))
        ]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        message, text, blocks = found[0], params.get("text") or "", params.get("blocks") or []
        if problem := _message_problem(text, blocks):
            return {"ok": False, "error": problem}
        message.text, message.blocks, message.edits = text, blocks, message.edits + 1
        if params.get("metadata"):
            message.metadata = params["metadata"]
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": text}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        oldest = float(params.get("oldest") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        newest_first = sorted(
            (m for m in self._messages if m.channel == channel and float(m.ts) > oldest),
            key=lambda m: float(m.ts),
            reverse=True,
        )
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 100), self.history_page_size)
        page = newest_first[start : start + size]
        has_more = start + size < len(newest_first)
        return {
            "ok": True,
            "messages": [m.as_history(with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(start + size) if has_more else ""},
        }

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if "files:write" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "files:write"}
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._files) + 1:08d}"
        self._files[file_id] = SharedFile(
            file_id, params["filename"], int(params["length"]), params.get("alt_txt")
        )
        origin = self.base_url.removesuffix("/api/")
        return {"ok": True, "file_id": file_id, "upload_url": f"{origin}/upload/{file_id}"}

    def upload(self, file_id: str, data: bytes) -> int:
        """The upload URL's answer: HTTP 200 when the bytes are the length announced."""
        with self._lock:
            found = self._files.get(file_id)
            if self.fail_uploads or found is None or len(data) != found.length:
                return 500
            found.data = data
            return 200

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        listed = params.get("files") or []
        found = [self._files.get(str(entry.get("id"))) for entry in listed]
        if not listed or None in found or any(not f.data for f in found if f):
            return {"ok": False, "error": "file_not_found"}
        channel = params.get("channel_id")
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        for shared, entry in zip(found, listed, strict=True):
            assert shared is not None
            shared.title, shared.channel = entry.get("title"), channel
            shared.thread_ts = params.get("thread_ts")
        return {"ok": True, "files": [{"id": f.file_id, "title": f.title} for f in found if f]}

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-team.slack.com/",
            "team": self.team,
            "user": self.bot_user,
            "team_id": "T0FAKE",
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        is_member = channel not in self.not_member_of
        info = {"id": channel, "name": f"alerts-{channel.lower()}", "is_channel": True}
        return {"ok": True, "channel": {**info, "is_member": is_member}}


def _message_problem(text: str, blocks: list[dict[str, Any]]) -> str | None:
    """The error Slack would give for a message beyond its limits, if any."""
    if len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        limit = MAX_HEADER_TEXT if block.get("type") == "header" else MAX_SECTION_TEXT
        texts = [
            (block.get("text") or {}).get("text", ""),
            *[e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict)],
        ]
        fields = [f.get("text", "") for f in block.get("fields", [])]
        if any(len(t) > limit for t in texts) or any(len(f) > MAX_FIELD_TEXT for f in fields):
            return "invalid_blocks"
        if len(fields) > 10 or len(block.get("elements", [])) > 10:
            return "invalid_blocks"
    return None


def _make_handler(server: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class SlackApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/upload/"):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = server.upload(url.path.removeprefix("/upload/"), raw)
                self._answer(status, {"ok": status == 200})
                return
            if not url.path.startswith("/api/"):
                self._answer(404, {"ok": False, "error": "not_found"})
                return
            request = RecordedRequest(
                method=url.path.removeprefix("/api/"),
                params={**dict(parse_qsl(url.query)), **self._body()},
                headers=dict(self.headers.items()),
            )
            scripted, body = server.handle(request)
            if scripted and scripted.drop:
                self.close_connection = True  # carried out; the client never hears
                return
            status = scripted.status if scripted else 200
            headers = {"x-oauth-scopes": ",".join(server.scopes)}
            if scripted and scripted.retry_after is not None:
                headers["Retry-After"] = str(scripted.retry_after)
            self._answer(status, body, headers)

        def _body(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not raw:
                return {}
            if "json" in (self.headers.get("Content-Type") or ""):
                return json.loads(raw)
            params: dict[str, Any] = dict(parse_qsl(raw.decode()))
            for name in _JSON_FIELDS:
                if isinstance(params.get(name), str):
                    params[name] = json.loads(params[name])
            return params

        def _answer(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return SlackApiHandler
