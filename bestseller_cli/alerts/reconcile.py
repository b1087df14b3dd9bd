"""Settling the outbox rows whose send was interrupted (a process died between the claim and
the record), and the report a delivery returns."""

from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.errors import DeliveryError
from bestseller_cli.models import ErrorEvent
from bestseller_cli.store import outbox_store

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
    updated: int = 0  # messages completed in place with the other side of their story
    charts: int = 0  # charts posted under alerts (SLACK_CHARTS)
    refusals: list[str] = field(default_factory=list)  # why Slack refused, once per reason
    errors: list[ErrorEvent] = field(default_factory=list)

    def refused_because(self, reason: str, count: int) -> None:
        self.refused += count
        if reason not in self.refusals:
            self.refusals.append(reason)


def reconcile(
    conn: psycopg.Connection,
    *,
    channel: AlertChannel,
    default_channel: str | None,
    report: DeliveryReport,
) -> None:
    """Settle rows whose send was interrupted: sent if the channel has them, else pending
    again (a channel without history gets them again under the same key)."""
    by_channel: dict[str, list[outbox_store.UnknownFate]] = {}
    for row in outbox_store.unknown_fate(conn):
        address = row.channel or default_channel
        if address is None:
            outbox_store.release(conn, [row.id], error=NO_CHANNEL, token=row.claim_token)
            continue
        by_channel.setdefault(address, []).append(row)
    for address, rows in by_channel.items():
        oldest = min(row.claimed_at for row in rows) - HISTORY_MARGIN
        try:
            delivered = channel.delivered(channel=address, oldest=oldest)
        except DeliveryError as exc:
            delivered = {}
            report.errors.append(
                ErrorEvent(
                    source="slack",
                    kind="reconcile",
                    message=f"could not read {address} history ({exc}); resending"
                    f" {len(rows)} alert(s) whose delivery is unknown: a duplicate is possible",
                )
            )
        for row in rows:
            if row.id in delivered:
                ts = delivered[row.id]
                if outbox_store.mark_sent(
                    conn, [row.id], channel=address, ts=ts, token=row.claim_token
                ):
                    report.recovered += 1
            else:
                outbox_store.release(conn, [row.id], error=None, token=row.claim_token)
