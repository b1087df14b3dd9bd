"""Keepa and Slack answered in this process for the demo: no network, no key.

`DemoKeepa` is an httpx transport that answers /token and /product from the scenario at the
hour the demo has reached; `DemoSlack` is a Slack that keeps what the real delivery code
posts and updates, in order, for the demo to print.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bestseller_cli.demo.scenario import PRODUCTS, product_json
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.slack.messages import SlackMessage

TOKENS_LEFT = 1200
_BY_ASIN = {product.asin: product for product in PRODUCTS}


class DemoKeepa(httpx.MockTransport):
    """Keepa's answers for the hour and time set with `at`."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.hour = 0
        self.moment: datetime | None = None

    def at(self, hour: int, moment: datetime) -> None:
        self.hour, self.moment = hour, moment

    def _answer(self, request: httpx.Request) -> httpx.Response:
        tokens = {"tokensLeft": TOKENS_LEFT, "refillIn": 60_000, "refillRate": 20}
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint == "token":
            return httpx.Response(200, json=tokens)
        if endpoint != "product" or self.moment is None:
            return httpx.Response(404, json={"error": {"type": "NOT_FOUND"}, **tokens})
        asins = request.url.params.get("asin", "").split(",")
        products = [
            product_json(_BY_ASIN[asin], hour=self.hour, at=self.moment)
            for asin in asins
            if asin in _BY_ASIN
        ]
        body = {"products": products, "tokensConsumed": len(asins), **tokens}
        return httpx.Response(200, content=json.dumps(body).encode())


@dataclass(frozen=True)
class SlackEvent:
    """A message posted (`updated` False) or updated in place, in `channel`; or a chart
    (`chart`: its PNG) posted in the thread of message `ts`."""

    channel: str
    ts: str
    message: SlackMessage
    updated: bool
    chart: bytes | None = None


@dataclass
class DemoSlack(SlackSender):
    """Slack as the delivery code sees it: each post gets a `ts`, each update lands. Only
    what a pass calls is answered (no client is made: nothing can leave the process)."""

    events: list[SlackEvent] = field(default_factory=list)
    posts: int = 0

    def post(self, *, channel: str, message: SlackMessage, outbox_ids: Any) -> str:
        self.posts += 1
        ts = f"{1_700_000_000 + self.posts}.000100"
        self.events.append(SlackEvent(channel, ts, message, updated=False))
        return ts

    def update(self, *, channel: str, ts: str, message: SlackMessage) -> None:
        self.events.append(SlackEvent(channel, ts, message, updated=True))

    def upload_chart(
        self, *, channel: str, thread_ts: str, png: bytes, title: str, alt: str
    ) -> None:
        message = SlackMessage(text=title, blocks=[])
        self.events.append(SlackEvent(channel, thread_ts, message, updated=False, chart=png))

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        return {}  # nothing is ever claimed and lost in one process

    def take(self) -> list[SlackEvent]:
        """The events since the last call."""
        events, self.events = self.events, []
        return events
