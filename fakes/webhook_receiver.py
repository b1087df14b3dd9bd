"""A webhook receiver on 127.0.0.1 (the loopback exception to https), over real HTTP.

Every request is verified with the Standard Webhooks reference library
(`standardwebhooks.Webhook(secret).verify`): a request it accepts is kept in `seen` as
(webhook-id, payload) and answered `status` (204 unless a test says otherwise); one it
rejects is counted in `forged` and answered 401. `drop` requests are taken, then the
connection is closed without an answer (the crash window). Its URL's path holds a secret
token, as Zapier's, Make's and n8n's do, for tests to look for in every output.

Tests get a fresh one per test from the `webhook_receiver` fixture (tests/conftest.py).
"""

import base64
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks import Webhook

from fakes.loopback import LoopbackServer

# A `whsec_` secret (base64 of 32 bytes) for tests to sign with and look for in outputs.
WEBHOOK_TEST_SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, fixed").decode()
SECRET_PATH = "hooks/catch/SECRETPATHTOKEN"


class WebhookReceiver(LoopbackServer):
    """The receiver's state and scripting; see the module docstring."""

    def __init__(self, secret: str = WEBHOOK_TEST_SECRET) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.forged = 0
        self.drop = 0
        self.status = 204
        self._verifier = Webhook(secret)
        self._lock = threading.Lock()
        super().__init__(_make_handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{SECRET_PATH}"

    def ids(self) -> list[str]:
        with self._lock:
            return [webhook_id for webhook_id, _ in self.seen]

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for _, payload in self.seen]

    def receive(self, body: bytes, headers: dict[str, str]) -> int | None:
        """The status to answer with, or None to drop the connection unanswered."""
        try:
            payload = self._verifier.verify(body, headers)
        except Exception:
            with self._lock:
                self.forged += 1
            return 401
        with self._lock:
            self.seen.append((headers["webhook-id"], payload))
            if self.drop:
                self.drop -= 1
                return None
            return self.status


def _make_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver.receive(body, headers)
            if status is None:
                self.close_connection = True
                self.connection.close()  # taken, never answered
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler
