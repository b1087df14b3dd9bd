"""Slack as an alert channel (the port in `alerts/port.py`): messages shaped as Block Kit
(`messages.py`), posted, updated and found again through `SlackSender` (`client.py`)."""

from datetime import datetime

from bestseller_cli.models import Outgoing, Picture
from bestseller_cli.shapes.report_models import Digest
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.slack.messages import (
    SlackMessage,
    alert_message,
    digest_message,
    notice_message,
    report_message,
)


def slack_message(message: Outgoing) -> SlackMessage:
    """The Block Kit form of a message: a notice, a digest (it has a title) or an alert."""
    if message.notice is not None:
        return notice_message(message.notice, message.status or "")
    if message.title is not None:
        return digest_message(message.changes, title=message.title)
    (change,) = message.changes
    return alert_message(change, extra_lines=message.lines)


class SlackChannel:
    """Every address is a Slack channel id; messages are live and take pictures."""

    def __init__(self, sender: SlackSender) -> None:
        self.sender = sender

    def live(self, channel: str | None) -> bool:
        return True

    def live_anywhere(self) -> bool:
        return True

    def takes_pictures(self, channel: str) -> bool:
        return True

    def post(self, *, channel: str, message: Outgoing) -> str:
        return self.sender.post(
            channel=channel, message=slack_message(message), outbox_ids=message.outbox_ids
        )

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        self.sender.update(channel=channel, ts=ref, message=slack_message(message))

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        return self.sender.delivered(channel=channel, oldest=oldest)

    def post_report(self, *, channel: str, digest: Digest) -> str:
        """The report's digest (`report --to-slack`): no outbox row, so no reconciliation."""
        return self.sender.post(channel=channel, message=report_message(digest), outbox_ids=[])

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        self.sender.upload_chart(
            channel=channel, thread_ts=ref, png=picture.png, title=picture.title, alt=picture.alt
        )
