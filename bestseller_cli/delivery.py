"""Delivering the outbox to Slack exactly once (see shared DELIVERY.md).

Claim rows and commit before calling Slack; after Slack answers, mark them sent with its
`ts`. Rows found claimed at the start belong to a process that died mid-send: Slack's
history, searched for the outbox ids in message metadata, tells whether they arrived.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from bestseller_cli import outbox_store
from bestseller_cli.config import Settings
from bestseller_cli.errors import SlackError
from bestseller_cli.models import ErrorEvent
from bestseller_cli.slack import (
    CHANNEL_REFUSALS,
    TOKEN_REFUSALS,
    SlackDeliveryUnknown,
    SlackMessage,
    SlackSender,
    alert_message,
    digest_message,
)
from bestseller_cli.story import flap_line, story_lines

# Slack's ts is taken when it receives the message; clocks of two machines may differ a bit.
HISTORY_MARGIN = timedelta(minutes=5)
NO_CHANNEL = "no Slack channel: set SLACK_CHANNEL_ID or give the client's rule a channel"


@dataclass
class DeliveryReport:
    sent: int = 0
    printed: int = 0
    refused: int = 0  # Slack refused them this time; kept for the next delivery
    expired: int = 0  # given up after ALERT_EXPIRY_DAYS undelivered, with the reason kept
    pending: int = 0  # due and still undelivered after this delivery (refused ones included)
    recovered: int = 0
    suppressed: int = 0
    refusals: list[str] = field(default_factory=list)  # why Slack refused, once per reason
    errors: list[ErrorEvent] = field(default_factory=list)

    def refused_because(self, reason: str, count: int) -> None:
        self.refused += count
        if reason not in self.refusals:
            self.refusals.append(reason)


class _Refusals:
    """Which channels (or the whole token) Slack refused during this delivery."""

    def __init__(self) -> None:
        self.refused_token: str | None = None
        self.refused_channels: dict[str, str] = {}

    def blocked(self, channel: str) -> str | None:
        return self.refused_token or self.refused_channels.get(channel)

    def note(self, channel: str, error: SlackError) -> None:
        if error.code in TOKEN_REFUSALS:
            self.refused_token = str(error)
        elif error.code in CHANNEL_REFUSALS:
            self.refused_channels[channel] = str(error)


def deliver(
    conn: psycopg.Connection,
    *,
    sender: SlackSender | None,
    default_channel: str | None,
    show: Callable[[SlackMessage], None],
    now: datetime,
    expiry_days: float,
    should_stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """Send every due outbox row; without a Slack token, print them instead. Rows Slack
    refused before are tried again; those undelivered past `expiry_days` expire."""
    report = DeliveryReport()
    if sender is not None:
        reconcile(conn, sender=sender, default_channel=default_channel, report=report)
    report.expired = outbox_store.expire(conn, now=now, days=expiry_days)
    if report.expired:
        message = (
            f"{report.expired} alert(s) expired undelivered after {expiry_days:g} days"
            " (ALERT_EXPIRY_DAYS); `bestseller alerts list` shows them with the last error"
        )
        report.errors.append(ErrorEvent(source="slack", kind="expired", message=message))
    items = outbox_store.due(conn, now=now)
    if sender is None:
        printed = set(outbox_store.mark_printed(conn, [item.id for item in items]))
        for item in items:
            if item.id in printed:
                show(message_for(conn, item))
        report.printed = len(printed)
        return report

    unroutable = [item.id for item in items if not (item.channel or default_channel)]
    if unroutable:
        outbox_store.release(conn, unroutable, error=NO_CHANNEL)
        report.errors.append(ErrorEvent(source="slack", kind="no_channel", message=NO_CHANNEL))
    outgoing: list[tuple[str, list[outbox_store.OutboxItem]]] = []
    digests: dict[str, list[outbox_store.OutboxItem]] = {}
    for item in items:
        channel = item.channel or default_channel
        if channel is None:
            continue
        if item.grouped:
            digests.setdefault(channel, []).append(item)
        elif not folded_into_recent_message(conn, sender, item, channel, report):
            outgoing.append((channel, [item]))
    outgoing += list(digests.items())
    refused = _Refusals()
    for position, (channel, group) in enumerate(outgoing):
        if should_stop():  # SIGTERM: the next run sends the rest
            break
        if refused.blocked(channel):
            continue  # Slack refused this token or channel already: no point asking again
        if not post(conn, sender, channel, group, report, refused):
            # Slack is struggling: leave the rest for the next run rather than hammer it.
            rest = [item.id for _, later in outgoing[position + 1 :] for item in later]
            outbox_store.release(conn, rest, error="not tried: Slack was failing")
            break
    report.pending = outbox_store.count_undelivered(conn, now=now)
    return report


def deliver_with_settings(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    show: Callable[[SlackMessage], None],
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """`deliver` to the configured Slack (or printed, without a token)."""
    sender = SlackSender.from_settings(settings) if settings.slack_bot_token else None
    return deliver(
        conn,
        sender=sender,
        default_channel=settings.slack_channel_id,
        show=show,
        now=now,
        expiry_days=settings.alert_expiry_days,
        should_stop=should_stop,
    )


def message_for(conn: psycopg.Connection, item: outbox_store.OutboxItem) -> SlackMessage:
    story = outbox_store.alert_story(conn, item)
    return alert_message(item.change, extra_lines=story_lines(item.change, story))


def post(
    conn: psycopg.Connection,
    sender: SlackSender,
    channel: str,
    group: list[outbox_store.OutboxItem],
    report: DeliveryReport,
    refused: _Refusals,
) -> bool:
    """Claim, post, mark sent (DELIVERY.md). False when Slack failed transiently.

    Only the rows the claim took are posted: another delivery may have taken the rest."""
    ids = outbox_store.claim(conn, [item.id for item in group])
    group = [item for item in group if item.id in ids]
    if not group:
        return True
    if len(group) == 1:
        message = message_for(conn, group[0])
    else:
        title = f"#1 Best Seller digest: {len(group)} changes"
        message = digest_message([item.change for item in group], title=title)
    try:
        ts = sender.post(channel=channel, message=message, outbox_ids=ids)
    except SlackError as exc:
        report.errors.append(ErrorEvent(source="slack", kind="send", message=str(exc)))
        if exc.permanent:
            outbox_store.mark_refused(conn, ids, error=str(exc))
            report.refused_because(str(exc), len(ids))
            refused.note(channel, exc)
            return True
        if not isinstance(exc, SlackDeliveryUnknown):
            # A post whose fate is unknown stays claimed, for the next run to look up.
            outbox_store.release(conn, ids, error=str(exc))
        return False
    outbox_store.mark_sent(conn, ids, channel=channel, ts=ts)
    report.sent += len(ids)
    return True


def folded_into_recent_message(
    conn: psycopg.Connection,
    sender: SlackSender,
    item: outbox_store.OutboxItem,
    channel: str,
    report: DeliveryReport,
) -> bool:
    """Flap control: a badge that flips again within the re-notify window updates the
    message already in the channel instead of posting another one."""
    if item.renotify_window_minutes <= 0:
        return False
    recent = outbox_store.recent_message(
        conn, item.change, channel=channel, window_minutes=item.renotify_window_minutes
    )
    if recent is None:
        return False
    window = timedelta(minutes=item.renotify_window_minutes)
    story = outbox_store.alert_story(conn, item)
    lines = [flap_line(recent.kinds, window=window), *story_lines(item.change, story)]
    reason = f"flapping within {item.renotify_window_minutes} min: updated message {recent.ts}"
    if not outbox_store.mark_suppressed(
        conn, item.id, channel=channel, ts=recent.ts, reason=reason
    ):
        return True  # another delivery took it
    try:
        sender.update(
            channel=channel, ts=recent.ts, message=alert_message(item.change, extra_lines=lines)
        )
    except SlackError as exc:
        report.errors.append(ErrorEvent(source="slack", kind="update", message=str(exc)))
        if exc.permanent:
            outbox_store.mark_refused(conn, [item.id], error=str(exc))
            report.refused_because(str(exc), 1)
        else:
            outbox_store.release(conn, [item.id], error=str(exc))
        return True
    report.suppressed += 1
    return True


def reconcile(
    conn: psycopg.Connection,
    *,
    sender: SlackSender,
    default_channel: str | None,
    report: DeliveryReport,
) -> None:
    """Settle rows whose send was interrupted: sent if Slack has them, else pending again."""
    by_channel: dict[str, list[outbox_store.UnknownFate]] = {}
    for row in outbox_store.unknown_fate(conn):
        channel = row.channel or default_channel
        if channel is None:
            outbox_store.release(conn, [row.id], error=NO_CHANNEL)
            continue
        by_channel.setdefault(channel, []).append(row)
    for channel, rows in by_channel.items():
        oldest = min(row.claimed_at for row in rows) - HISTORY_MARGIN
        try:
            delivered = sender.delivered(channel=channel, oldest=oldest)
        except SlackError as exc:
            delivered = {}
            report.errors.append(
                ErrorEvent(
                    source="slack",
                    kind="reconcile",
                    message=f"could not read {channel} history ({exc}); resending"
                    f" {len(rows)} alert(s) whose delivery is unknown: a duplicate is possible",
                )
            )
        for row in rows:
            if row.id in delivered:
                outbox_store.mark_sent(conn, [row.id], channel=channel, ts=delivered[row.id])
                report.recovered += 1
            else:
                outbox_store.release(conn, [row.id], error=None)
