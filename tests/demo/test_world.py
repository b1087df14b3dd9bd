"""The demo's recorder honours the channel contract (tests/alerts/contract.py): live,
updated in place, takes pictures and finds what it posted, with Slack-like references;
nothing leaves the process, so nothing can refuse."""

import pytest

from bestseller_cli.demo.world import Recorder
from tests.alerts.contract import ChannelContract


class RecordedEnd:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def arrived(self) -> dict[str, str]:
        held: dict[str, str] = {}
        for event in self.recorder.events:
            if event.chart is None:
                held[event.ts] = "\n".join((event.message.text, *event.message.details))
        return held

    def pictures(self, ref: str) -> int:
        return sum(1 for e in self.recorder.events if e.chart is not None and e.ts == ref)

    def plant(self, outbox_id: int) -> None:
        pass

    def refuse(self) -> bool:
        return False


class TestRecorder(ChannelContract):
    @pytest.fixture
    def channel(self) -> Recorder:
        return Recorder()

    @pytest.fixture
    def address(self) -> str:
        return "C0ALERTS"

    @pytest.fixture
    def far_end(self, channel: Recorder) -> RecordedEnd:
        return RecordedEnd(channel)
