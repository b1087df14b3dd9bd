"""Keepa and Slack answered in this process for the demo: no network, no key.

`DemoKeepa` is an httpx transport that answers /token, /product and /bestsellers from the
scenario at the hour the demo has reached; `Recorder` is an alert channel that keeps what the
real delivery code posts and updates, in order, for the demo to print.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from bestseller_cli.alerts.channels import printed_form
from bestseller_cli.demo.scenario import NEWCOMER, PRODUCTS, best_seller_json, product_json
from bestseller_cli.models import Outgoing, Picture, Printed

TOKENS_LEFT = 1200
_BY_ASIN = {product.asin: product for product in (*PRODUCTS, NEWCOMER)}


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
        if endpoint == "bestsellers" and self.moment is not None:
            category = int(request.url.params.get("category", "0"))
            listing = best_seller_json(category, hour=self.hour, at=self.moment)
            return httpx.Response(200, json={**listing, **tokens})
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
    """A message posted (`updated` False) or updated in place, in `channel`, as a terminal
    shows it; or a chart (`chart`: its PNG) posted in the thread of message `ts`."""

    channel: str
    ts: str
    message: Printed
    updated: bool
    chart: bytes | None = None


@dataclass
class Recorder:
    """A channel (alerts/port.py) that keeps what the real delivery code posts, updates and
    attaches, in order, with Slack-like references: nothing leaves the process."""

    events: list[SlackEvent] = field(default_factory=list)
    posts: int = 0
    # Outbox id -> reference of each message posted, as a channel's history would show it.
    posted: dict[int, str] = field(default_factory=dict)

    def live(self, channel: str | None) -> bool:
        return True

    def live_anywhere(self) -> bool:
        return True

    def takes_pictures(self, channel: str) -> bool:
        return True

    def post(self, *, channel: str, message: Outgoing) -> str:
        self.posts += 1
        ts = f"{1_700_000_000 + self.posts}.000100"
        self.posted.update(dict.fromkeys(message.outbox_ids, ts))
        self.events.append(SlackEvent(channel, ts, printed_form(message), updated=False))
        return ts

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        self.events.append(SlackEvent(channel, ref, printed_form(message), updated=True))

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        shown = Printed(text=picture.title)
        self.events.append(SlackEvent(channel, ref, shown, updated=False, chart=picture.png))

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        """Every message it posted: its clock is the demo's, so `oldest` is not applied."""
        return dict(self.posted)

    def take(self) -> list[SlackEvent]:
        """The events since the last call."""
        events, self.events = self.events, []
        return events
