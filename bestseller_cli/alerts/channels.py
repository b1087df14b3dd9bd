"""The one place that wires the channel adapters (the port is `port.py`): Slack, signed
webhooks and the printer, behind a router that sends each address to its adapter.

Without SLACK_BOT_TOKEN, Slack addresses (and the default channel) go to the printer; an
address `webhook:<rule id>` goes to that rule's webhook either way.
"""

import html
from collections.abc import Callable
from datetime import datetime

import psycopg

from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.config import Settings
from bestseller_cli.errors import DeliveryError
from bestseller_cli.models import Outgoing, Picture, Printed
from bestseller_cli.rules.routing import WEBHOOK_PREFIX
from bestseller_cli.slack.channel import SlackChannel, slack_message
from bestseller_cli.slack.client import SlackSender
from bestseller_cli.store import client_store
from bestseller_cli.webhook.channel import WebhookChannel
from bestseller_cli.webhook.client import WebhookSender


def print_nothing(printed: Printed) -> None:
    """Alerts without a Slack token go nowhere unless the caller shows them."""


def printed_form(message: Outgoing) -> Printed:
    """A message as a terminal shows it: the notification text, then the small print."""
    shaped = slack_message(message)
    details = tuple(
        html.unescape(line)
        for block in shaped.blocks
        if block.get("type") == "context"
        for element in block.get("elements", [])
        for line in element.get("text", "").splitlines()
    )
    return Printed(text=html.unescape(shaped.text), details=details)


class Printer:
    """Alerts shown through `show` (the terminal, a log): once, whole, never updated."""

    def __init__(self, show: Callable[[Printed], None] = print_nothing) -> None:
        self.show = show
        self.printed = 0

    def live(self, channel: str | None) -> bool:
        return False

    def live_anywhere(self) -> bool:
        return False

    def takes_pictures(self, channel: str) -> bool:
        return False

    def post(self, *, channel: str, message: Outgoing) -> str:
        self.show(printed_form(message))
        self.printed += 1
        return f"printed-{self.printed}"

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        raise DeliveryError("a printed alert cannot be updated", permanent=True)

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        return {}

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        raise DeliveryError("a printed alert takes no pictures", permanent=True)


class Router:
    """Webhook addresses to the webhooks, every other address to `default`."""

    def __init__(self, default: AlertChannel, webhooks: WebhookChannel | None = None) -> None:
        self.default = default
        self.webhooks = webhooks

    def to(self, channel: str | None) -> AlertChannel:
        if channel is not None and channel.startswith(WEBHOOK_PREFIX) and self.webhooks is not None:
            return self.webhooks
        return self.default

    def live(self, channel: str | None) -> bool:
        return self.to(channel).live(channel)

    def live_anywhere(self) -> bool:
        webhooks = self.webhooks is not None and self.webhooks.live_anywhere()
        return webhooks or self.default.live_anywhere()

    def takes_pictures(self, channel: str) -> bool:
        return self.to(channel).takes_pictures(channel)

    def post(self, *, channel: str, message: Outgoing) -> str:
        return self.to(channel).post(channel=channel, message=message)

    def update(self, *, channel: str, ref: str, message: Outgoing) -> None:
        self.to(channel).update(channel=channel, ref=ref, message=message)

    def delivered(self, *, channel: str, oldest: datetime) -> dict[int, str]:
        return self.to(channel).delivered(channel=channel, oldest=oldest)

    def attach(self, *, channel: str, ref: str, picture: Picture) -> None:
        self.to(channel).attach(channel=channel, ref=ref, picture=picture)


def slack_sender(settings: Settings) -> SlackSender:
    return SlackSender.from_settings(settings)


def slack_channel(settings: Settings) -> SlackChannel:
    return SlackChannel(slack_sender(settings))


def slack_or_printer(
    settings: Settings, *, show: Callable[[Printed], None] = print_nothing
) -> AlertChannel:
    """Slack when there is a token, else the printer."""
    if settings.slack_bot_token:
        return SlackChannel(slack_sender(settings))
    return Printer(show)


def webhook_channel(conn: psycopg.Connection, settings: Settings) -> WebhookChannel:
    """The rules' webhooks (`clients rule NAME --webhook URL`), signed with WEBHOOK_SECRET."""
    sender = WebhookSender(
        secret=settings.webhook_secret,
        timeout_seconds=settings.api_timeout_seconds,
        max_retries=settings.max_retries,
        retry_delay_seconds=settings.retry_delay_seconds,
    )
    return WebhookChannel(sender, client_store.webhook_urls(conn))


def open_channels(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    show: Callable[[Printed], None] = print_nothing,
    default: AlertChannel | None = None,
) -> Router:
    """Where a pass delivers: `default` (the demo's recorder) or Slack or the printer, and
    the webhooks the rules name."""
    chosen = default if default is not None else slack_or_printer(settings, show=show)
    return Router(chosen, webhook_channel(conn, settings))
