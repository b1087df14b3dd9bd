"""Signed webhooks honour the channel contract (tests/alerts/contract.py), against a
receiver on 127.0.0.1 that verifies every request with `standardwebhooks`: live, no
pictures, and no history to ask. The reference is the `webhook-id`; an update is an
`alert.updated` event under `<reference>_update_…`, which the receiver applies to the alert
it names; a message sent again carries the same `webhook-id`, for the receiver to drop."""

import json
from collections.abc import Iterator

import pytest

from bestseller_cli.webhook.channel import WebhookChannel
from bestseller_cli.webhook.client import WebhookSender
from fakes.webhook_receiver import WEBHOOK_TEST_SECRET, WebhookReceiver
from tests.alerts.contract import ChannelContract

ADDRESS = "webhook:7"


class WebhookFarEnd:
    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    def arrived(self) -> dict[str, str]:
        assert self.receiver.forged == 0
        held: dict[str, str] = {}
        for webhook_id, payload in self.receiver.seen:
            held[webhook_id.split("_update_")[0]] = json.dumps(payload, ensure_ascii=False)
        return held

    def pictures(self, ref: str) -> int:
        return 0  # a webhook body carries none

    def plant(self, outbox_id: int) -> None:
        pass  # the receiver's history is not ours to read

    def refuse(self) -> bool:
        self.receiver.status = 410
        return True


class TestWebhookChannel(ChannelContract):
    REMEMBERS = False
    KEYED = True

    @pytest.fixture
    def channel(self, webhook_receiver: WebhookReceiver) -> Iterator[WebhookChannel]:
        sender = WebhookSender(secret=WEBHOOK_TEST_SECRET, max_retries=0, retry_delay_seconds=0)
        yield WebhookChannel(sender, {ADDRESS: webhook_receiver.url})
        sender.close()

    @pytest.fixture
    def address(self) -> str:
        return ADDRESS

    @pytest.fixture
    def far_end(self, webhook_receiver: WebhookReceiver) -> WebhookFarEnd:
        return WebhookFarEnd(webhook_receiver)
