"""Webhooks as an alert channel (the port in `alerts/port.py`).

An address `webhook:<rule id>` names the URL stored with that rule. Each alert is one
signed POST whose `webhook-id` is its idempotency key (`alert_<outbox id>`): a digest is
several POSTs, an update is an `alert.updated` event under a key of its own. A webhook keeps
no history to read back, so `delivered` finds nothing and an alert whose answer was lost is
sent again under the same key: delivery is at least once, deduplicated by the receiver.
"""

import hashlib
from datetime import datetime

from bestseller_cli.errors import WebhookError
from bestseller_cli.models import Outgoing, Picture
from bestseller_cli.webhook.body import UPDATED, alert_body, notice_body
from bestseller_cli.webhook.client import WebhookSender


def webhook_id(outbox_id: int) -> str:
    """The idempotency key of the alert in outbox row `outbox_id`, on every retry."""
    return f"alert_{outbox_id}"


class WebhookChannel:
    """Addresses `webhook:<rule id>` -> URL; every message goes out at once, no pictures."""

    def __init__(self, sender: WebhookSender, urls: dict[str, str]) -> None:
        self.sender = sender
        self.urls = urls

    def live(self, channel: str | None) -> bool:
        return True

    def live_anywhere(self) -> bool:
        return bool(self.urls)

    def takes_pictures(self, channel: str) -> bool:
        return False

    def url(self, channel: str) -> str:
        url = self.urls.get(channel)
        if url is None:
            raise WebhookError(
                f"no webhook for {channel}: its rule was removed or its --webhook dropped",
                permanent=True,
                refuses="channel",
            )
        return url

    def post(self, *, channel: str, message: Outgoing) -> str:
        url = self.url(channel)
        if message.notice is not None:
            key = f"notice_{message.outbox_ids[0]}" if message.outbox_ids else "notice"
            self.sender.send(
                url=url, webhook_id=key, body=notice_body(message.notice, message.status)
            )
            return key
        keys = [webhook_id(outbox_id) for outbox_id in message.outbox_ids]
        for key, change in zip(keys, message.changes, strict=True):
            self.sender.send(url=url, webhook_id=key, body=alert_body(change, story=message.lines))
        return keys[0]

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        """An `alert.updated` event; its key is the alert's and the update's content, so a
        retried update is deduplicated and a later one is not."""
        if message.notice is not None:
            body = notice_body(message.notice, message.status)
        else:
            (change,) = message.changes
            body = alert_body(change, event=UPDATED, story=message.lines)
        key = f"{ref}_update_{hashlib.sha256(body).hexdigest()[:16]}"
        self.sender.send(url=self.url(channel), webhook_id=key, body=body)

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        return {}

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        raise WebhookError("a webhook takes no pictures", permanent=True)
