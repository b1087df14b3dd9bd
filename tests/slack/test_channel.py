"""Slack honours the channel contract (tests/alerts/contract.py), against the fake Slack:
live, updates in place, takes pictures, and finds its own messages in the channel's history
(by the outbox ids in their metadata), never another app's."""

import json

import pytest

from bestseller_cli.slack.channel import SlackChannel
from bestseller_cli.slack.client import EVENT_TYPE, SlackSender
from fakes import SLACK_TEST_TOKEN
from fakes.slack_server import FakeSlack
from tests.alerts.contract import ChannelContract

CHANNEL = "C0ALERTS"


class SlackFarEnd:
    def __init__(self, server: FakeSlack) -> None:
        self.server = server

    def arrived(self) -> dict[str, str]:
        return {m.ts: m.text + json.dumps(m.blocks) for m in self.server.messages(CHANNEL)}

    def pictures(self, ref: str) -> int:
        return sum(1 for shared in self.server.files(CHANNEL) if shared.thread_ts == ref)

    def plant(self, outbox_id: int) -> None:
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"ids": str(outbox_id)}}
        self.server.add_message(CHANNEL, "not ours", metadata=metadata, bot_id="B0OTHERAPP")

    def refuse(self) -> bool:
        self.server.channel_errors[CHANNEL] = "channel_not_found"
        return True


class TestSlackChannel(ChannelContract):
    @pytest.fixture
    def channel(self, slack_server: FakeSlack) -> SlackChannel:
        sender = SlackSender(
            token=SLACK_TEST_TOKEN,
            api_url=slack_server.base_url,
            max_retries=0,
            retry_delay_seconds=0,
        )
        return SlackChannel(sender)

    @pytest.fixture
    def address(self) -> str:
        return CHANNEL

    @pytest.fixture
    def far_end(self, slack_server: FakeSlack) -> SlackFarEnd:
        return SlackFarEnd(slack_server)
