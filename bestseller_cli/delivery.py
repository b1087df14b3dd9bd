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
from bestseller_cli.errors import SlackError
from bestseller_cli.models import ErrorEvent
from bestseller_cli.slack import SlackDeliveryUnknown, SlackMessage, SlackSender, alert_message

# Slack's ts is taken when it receives the message; clocks of two machines may differ a bit.
HISTORY_MARGIN = timedelta(minutes=5)
NO_CHANNEL = "no Slack channel: set SLACK_CHANNEL_ID or give the client's rule a channel"


@dataclass
class DeliveryReport:
    sent: int = 0
    printed: int = 0
    failed: int = 0
    pending: int = 0
    recovered: int = 0
    errors: list[ErrorEvent] = field(default_factory=list)


def deliver(
    conn: psycopg.Connection,
    *,
    sender: SlackSender | None,
    default_channel: str | None,
    show: Callable[[SlackMessage], None],
    now: datetime,
) -> DeliveryReport:
    """Send every due outbox row; without a Slack token, print them instead."""
    report = DeliveryReport()
    if sender is not None:
        reconcile(conn, sender=sender, default_channel=default_channel, report=report)
    items = outbox_store.due(conn, now=now)
    if sender is None:
        for item in items:
            show(alert_message(item.change))
        outbox_store.mark_printed(conn, [item.id for item in items])
        report.printed = len(items)
        return report

    unroutable = [item.id for item in items if not (item.channel or default_channel)]
    if unroutable:
        outbox_store.release(conn, unroutable, error=NO_CHANNEL)
        report.errors.append(ErrorEvent(source="slack", kind="no_channel", message=NO_CHANNEL))
    sendable = [item for item in items if item.channel or default_channel]
    outbox_store.claim(conn, [item.id for item in sendable])
    for position, item in enumerate(sendable):
        channel = item.channel or default_channel
        assert channel is not None
        try:
            ts = sender.post(
                channel=channel, message=alert_message(item.change), outbox_ids=[item.id]
            )
        except SlackError as exc:
            report.errors.append(ErrorEvent(source="slack", kind="send", message=str(exc)))
            if exc.permanent:
                outbox_store.mark_failed(conn, [item.id], error=str(exc))
                report.failed += 1
                continue
            # Slack is struggling: leave the rest for the next run rather than hammer it. A post
            # whose fate is unknown stays claimed, for the next run to look up in history.
            unsent = (
                sendable[position + 1 :]
                if isinstance(exc, SlackDeliveryUnknown)
                else sendable[position:]
            )
            outbox_store.release(conn, [i.id for i in unsent], error=str(exc))
            break
        outbox_store.mark_sent(conn, [item.id], channel=channel, ts=ts)
        report.sent += 1
    report.pending = outbox_store.count_undelivered(conn)
    return report


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
