"""Delivering the outbox through the channel port (`port.py`) exactly once (see shared
DELIVERY.md).

Claim rows and commit before calling the channel; after it answers, mark them sent with its
reference (Slack's `ts`). Rows found claimed at the start belong to a process that died
mid-send: the channel's history (Slack's, searched for the outbox ids in message metadata)
tells whether they arrived; a channel without history (a webhook) gets them again under the
same idempotency key, for its receiver to deduplicate.

A pass delivers as it goes: each batch's instant alerts right after the batch is written
(`Delivery.batch`), the rest (digests, held alerts, retries) at the end (`Delivery.sweep`).
A message posted before its story was complete is updated in place once it is.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import psycopg

from bestseller_cli.alerts.charts import CHARTED, ChartDue, post_charts
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.alerts.reconcile import NO_CHANNEL, DeliveryReport, reconcile
from bestseller_cli.config import Settings
from bestseller_cli.errors import DeliveryError, DeliveryUnknown
from bestseller_cli.models import Change, ErrorEvent, Outgoing
from bestseller_cli.rules.story import awaits_other_side, flap_line, story_lines
from bestseller_cli.store import outbox_store, story_store
from bestseller_cli.store.outbox_store import OutboxItem
from bestseller_cli.store.story_store import Posted, ToldItem


class Deliverer(Protocol):
    """What a pass asks of delivery: a written batch's alerts, then the rest at its end."""

    def batch(self, *, ids: list[int], categories: list[tuple[str, int]], now: datetime) -> None:
        """Deliver a written batch's instant alerts."""

    def sweep(self, *, now: datetime) -> DeliveryReport:
        """Deliver what the batches left, and report the pass's delivery."""
        ...


class NoDelivery:
    """A dry run's delivery: nothing goes out, nothing is reported."""

    def batch(self, *, ids: list[int], categories: list[tuple[str, int]], now: datetime) -> None:
        pass

    def sweep(self, *, now: datetime) -> DeliveryReport:
        return DeliveryReport()


class _Refusals:
    """Which channels (or the whole token) Slack refused during this delivery."""

    def __init__(self) -> None:
        self.refused_token: str | None = None
        self.refused_channels: dict[str, str] = {}

    def blocked(self, channel: str) -> str | None:
        return self.refused_token or self.refused_channels.get(channel)

    def note(self, channel: str, error: DeliveryError) -> None:
        if error.refuses == "everything":
            self.refused_token = str(error)
        elif error.refuses == "channel":
            self.refused_channels[channel] = str(error)


@dataclass
class Delivery:
    """One pass's delivery, through `channel`: addresses it does not keep live (the printer)
    get their alerts once, whole, when the pass ends."""

    conn: psycopg.Connection
    channel: AlertChannel
    default_channel: str | None
    expiry_days: float
    should_stop: Callable[[], bool] = lambda: False  # SIGTERM: the next run sends the rest
    # SLACK_CHARTS: a chart under each badge alert posted, once every alert has gone out.
    charts: bool = False
    max_gap: timedelta = timedelta(hours=2)  # checks further apart leave a gap in a chart
    charts_due: list[ChartDue] = field(default_factory=list)
    report: DeliveryReport = field(default_factory=DeliveryReport)
    slack_failing: bool = False  # the rest waits for the sweep rather than hammer Slack
    refused: _Refusals = field(default_factory=_Refusals)
    # Its claims carry it; every write after a claim compares it (outbox_store.CLAIMED).
    token: str = field(default_factory=outbox_store.new_claim_token)

    def batch(self, *, ids: list[int], categories: list[tuple[str, int]], now: datetime) -> None:
        """A written batch's instant alerts, and the messages its changes complete: one
        round trip to claim and read them, Slack, one round trip to mark them."""
        # Printed alerts go out after the last batch, with the whole story: a terminal
        # line cannot be updated.
        if not self.channel.live_anywhere() or self.slack_failing or not (ids or categories):
            return
        if self.should_stop():
            return
        told = story_store.claim_and_tell(
            self.conn,
            ids=ids,
            categories=categories,
            default_channel=self.default_channel,
            now=now,
            token=self.token,
        )
        self.send(told)

    def sweep(self, *, now: datetime) -> DeliveryReport:
        """Everything the batches left: rows of a run that died, digests and alerts held
        for quiet hours, posts Slack refused for now, and updates found only now."""
        reconcile(
            self.conn,
            channel=self.channel,
            default_channel=self.default_channel,
            report=self.report,
        )
        self.slack_failing = False  # one more try per pass
        self.expire(now)
        items = outbox_store.due(self.conn, now=now)
        told = story_store.tell(
            self.conn,
            [item.id for item in items if not self.live(item) or not item.grouped],
            default_channel=self.default_channel,
        )
        live = [item for item in items if self.live(item)]
        if len(live) < len(items):
            self.print_out([item for item in items if not self.live(item)], told)
            if not live:
                return self.report
        singles, digests = self.route(live, told)
        if singles and not self.should_stop():
            # Only the rows the claim took: another delivery may have taken the rest.
            ids = [entry.item.id for entry in singles]
            taken = set(outbox_store.claim(self.conn, ids, token=self.token))
            self.send([entry for entry in singles if entry.item.id in taken])
        for channel, group in digests.items():
            self.send_digest(channel, group)
        if not (self.slack_failing or self.should_stop()):
            self.send(
                story_store.claim_and_tell(
                    self.conn,
                    ids=[],
                    categories=None,
                    default_channel=self.default_channel,
                    now=now,
                    token=self.token,
                )
            )
        story_store.expire_awaiting(self.conn, now=now)
        self.report.pending = outbox_store.count_undelivered(self.conn, now=now)
        self.post_charts()
        return self.report

    def live(self, item: OutboxItem) -> bool:
        return self.channel.live(item.channel or self.default_channel)

    def expire(self, now: datetime) -> None:
        """Alerts undelivered for ALERT_EXPIRY_DAYS are given up, saying so."""
        expired = outbox_store.expire(self.conn, now=now, days=self.expiry_days)
        self.report.expired = expired
        if expired:
            message = (
                f"{expired} alert(s) expired undelivered after {self.expiry_days:g} days"
                " (ALERT_EXPIRY_DAYS); `bestseller alerts list` shows them with the last error"
            )
            self.report.errors.append(ErrorEvent(source="slack", kind="expired", message=message))

    def route(
        self, items: list[OutboxItem], told: dict[int, ToldItem]
    ) -> tuple[list[ToldItem], dict[str, list[OutboxItem]]]:
        """Due items by how they go out: alone (told), or in their channel's digest. Those
        without a channel are released with the reason; a refused channel's wait."""
        unroutable = [item.id for item in items if not (item.channel or self.default_channel)]
        if unroutable:
            outbox_store.release(self.conn, unroutable, error=NO_CHANNEL, token=None)
            self.report.errors.append(
                ErrorEvent(source="slack", kind="no_channel", message=NO_CHANNEL)
            )
        singles: list[ToldItem] = []
        digests: dict[str, list[OutboxItem]] = {}
        for item in items:
            channel = item.channel or self.default_channel
            if channel is None or self.refused.blocked(channel):
                continue  # refused in this pass already: kept for the next delivery
            if item.grouped:
                digests.setdefault(channel, []).append(item)
            else:
                singles.append(told[item.id])
        return singles, digests

    def send_digest(self, channel: str, group: list[OutboxItem]) -> None:
        """One channel's digest: the rows its claim took, in one message."""
        if self.should_stop() or self.refused.blocked(channel):
            return
        if self.slack_failing:
            ids = [item.id for item in group]
            outbox_store.release(self.conn, ids, error=SLACK_FAILING, token=None)
            return
        ids = outbox_store.claim(self.conn, [item.id for item in group], token=self.token)
        group = [item for item in group if item.id in ids]
        if not group:
            return
        title = f"#1 Best Seller digest: {len(group)} changes"
        message = digest_of([(item.id, item.change) for item in group], title=title)
        ts = self.post(channel, ids, message)
        if ts is not None:
            outbox_store.mark_sent(self.conn, ids, channel=channel, ts=ts, token=self.token)
            self.report.sent += len(ids)

    def print_out(self, items: list[OutboxItem], told: dict[int, ToldItem]) -> None:
        """Alerts to addresses that are not live (the printer): each once, with its story."""
        printed = set(outbox_store.mark_printed(self.conn, [item.id for item in items]))
        for item in items:
            if item.id in printed:
                channel = item.channel or self.default_channel or ""
                self.channel.post(channel=channel, message=message_for(told[item.id]))
        self.report.printed += len(printed)

    def post_charts(self) -> None:
        """The charts of the alerts this delivery posted: after all of them, tried once."""
        due, self.charts_due = self.charts_due, []
        if due and not self.should_stop():
            errors = post_charts(self.conn, self.channel, due, max_gap=self.max_gap)
            self.report.charts += len(due) - len(errors)
            self.report.errors += errors

    def send(self, told: list[ToldItem]) -> None:
        """Post or update claimed items in order, then mark them all in one round trip."""
        posted: list[Posted] = []
        updated: list[int] = []
        retry: list[int] = []  # updates to try again later
        given_up: list[int] = []  # updates Slack refused for good (message deleted, …)
        for position, entry in enumerate(told):
            item = entry.item
            channel = item.channel or self.default_channel
            assert channel is not None  # claimed only with a channel
            blocked = self.refused.blocked(channel)
            if blocked:  # Slack refused this token or channel already: no point asking again
                if entry.posted_ts is None:  # not tried: as if never claimed
                    outbox_store.release(self.conn, [item.id], error=None, token=self.token)
                else:
                    retry.append(item.id)
                continue
            if self.slack_failing or self.should_stop():
                rest = [later.item.id for later in told[position:] if later.posted_ts is None]
                outbox_store.release(self.conn, rest, error=SLACK_FAILING, token=self.token)
                retry += [later.item.id for later in told[position:] if later.posted_ts]
                break
            if entry.posted_ts is not None:
                done = self.update(channel, entry.posted_ts, message_for(entry), kind="update")
                outcome = updated if done else retry if self.slack_failing else given_up
                outcome.append(item.id)
            elif entry.recent is not None:
                self.fold(entry, channel)
            else:
                ts = self.post(channel, [item.id], message_for(entry))
                if ts is not None:
                    awaiting = awaits_other_side(item.change, entry.story)
                    posted.append(Posted(id=item.id, channel=channel, ts=ts, awaiting=awaiting))
                    if self.charts and item.change.kind in CHARTED and self.pictures(channel):
                        self.charts_due.append(ChartDue(channel=channel, ts=ts, change=item.change))
        story_store.settle(
            self.conn,
            posted=posted,
            updated=updated,
            retry=retry,
            given_up=given_up,
            token=self.token,
        )
        self.report.sent += len(posted)
        self.report.updated += len(updated)

    def pictures(self, channel: str) -> bool:
        return self.channel.takes_pictures(channel)

    def post(self, channel: str, ids: list[int], message: Outgoing) -> str | None:
        """Post claimed rows; the channel's reference, or None when it failed (recorded)."""
        try:
            return self.channel.post(channel=channel, message=message)
        except DeliveryError as exc:
            self.report.errors.append(ErrorEvent(source="slack", kind="send", message=str(exc)))
            if exc.permanent:
                outbox_store.mark_refused(self.conn, ids, error=str(exc), token=self.token)
                self.report.refused_because(str(exc), len(ids))
                self.refused.note(channel, exc)
                return None
            self.slack_failing = True
            if not isinstance(exc, DeliveryUnknown):
                # A post whose fate is unknown stays claimed, for the next run to look up.
                outbox_store.release(self.conn, ids, error=str(exc), token=self.token)
            return None

    def update(self, channel: str, ts: str, message: Outgoing, *, kind: str) -> bool:
        try:
            self.channel.update(channel=channel, ref=ts, message=message)
        except DeliveryError as exc:
            self.report.errors.append(ErrorEvent(source="slack", kind=kind, message=str(exc)))
            self.slack_failing = self.slack_failing or not exc.permanent
            return False
        return True

    def fold(self, entry: ToldItem, channel: str) -> None:
        """Flap control: a badge that flips again within the re-notify window updates the
        message already in the channel instead of posting another one."""
        item, recent = entry.item, entry.recent
        assert recent is not None and entry.recent_id is not None
        window = timedelta(minutes=item.renotify_window_minutes)
        lines = [flap_line(recent.kinds, window=window), *story_lines(item.change, entry.story)]
        reason = f"flapping within {item.renotify_window_minutes} min: updated message {recent.ts}"
        outbox_store.mark_suppressed(
            self.conn,
            [item.id],
            channel=channel,
            ts=recent.ts,
            reason=reason,
            folded_into=entry.recent_id,
            token=self.token,
        )
        message = Outgoing(outbox_ids=(item.id,), changes=(item.change,), lines=tuple(lines))
        if self.update(channel, recent.ts, message, kind="update"):
            self.report.suppressed += 1
        elif self.slack_failing:
            failed = "Slack failed to update the message"
            outbox_store.release(self.conn, [item.id], error=failed, token=self.token)
        else:
            error = "Slack refused to update the message"
            outbox_store.mark_refused(self.conn, [item.id], error=error, token=self.token)
            self.report.refused_because(error, 1)


SLACK_FAILING = "not tried: Slack was failing"


def deliver_with_settings(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    channel: AlertChannel,
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """Everything due, through `channel` (`channels.open_channels`): the sweep of a pass,
    run on its own (`bestseller alerts retry`)."""
    delivery = Delivery(
        conn=conn,
        channel=channel,
        default_channel=settings.slack_channel_id,
        expiry_days=settings.alert_expiry_days,
        should_stop=should_stop,
        **chart_options(settings),
    )
    return delivery.sweep(now=now)


def chart_options(settings: Settings) -> dict[str, Any]:
    """Delivery's chart fields from the settings: on or off, and what a gap is (as for the
    operations conditions, twice the schedule)."""
    return {
        "charts": settings.slack_charts,
        "max_gap": settings.unobserved_after,
    }


def message_for(entry: ToldItem) -> Outgoing:
    change = entry.item.change
    lines = tuple(story_lines(change, entry.story))
    return Outgoing(outbox_ids=(entry.item.id,), changes=(change,), lines=lines)


def digest_of(items: list[tuple[int, Change]], *, title: str) -> Outgoing:
    ids, changes = zip(*items, strict=True)
    return Outgoing(outbox_ids=tuple(ids), changes=tuple(changes), title=title)
