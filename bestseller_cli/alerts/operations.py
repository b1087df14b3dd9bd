"""Operations alerts: after each pass, judge the conditions (ops_rules), record them
(ops_store) and tell the operations channel (SLACK_OPS_CHANNEL_ID) through the outbox.

A condition is posted once when it opens, its message is updated in place while it lasts
(how many passes, since when), and one "resolved" message follows when it clears.
"""

import logging
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg

from bestseller_cli.alerts.channels import slack_sender
from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.alerts.reconcile import DeliveryReport, reconcile
from bestseller_cli.config import Settings
from bestseller_cli.errors import BestsellerError, DeliveryError, DeliveryUnknown
from bestseller_cli.escape import mrkdwn_text
from bestseller_cli.models import Outgoing
from bestseller_cli.rules.ops_rules import Limits, PassFacts, database_unwritable, judge, utc
from bestseller_cli.slack.channel import slack_message
from bestseller_cli.store import ops_store, outbox_store

log = logging.getLogger(__name__)


def limits(settings: Settings) -> Limits:
    return Limits(
        schedule_minutes=settings.schedule_minutes,
        undelivered_minutes=settings.ops_undelivered_minutes,
        max_resumes=settings.ops_max_resumes,
        database_size_limit_mb=settings.database_size_limit_mb,
    )


def watch_operations(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    facts: PassFacts,
    run_id: int | None,
    channel: AlertChannel,
) -> list[str]:
    """Record what holds after a pass and deliver the operations posts; return the open
    conditions' headlines. Never fails the pass: a problem here is logged."""
    try:
        stored = ops_store.stored_facts(
            conn,
            run_id=run_id,
            undelivered_cutoff=facts.now - timedelta(minutes=settings.ops_undelivered_minutes),
        )
        facts = replace(
            facts,
            resumes=stored.attempts - 1,
            previous_completed_at=stored.previous_completed_at,
            undelivered=stored.undelivered,
            oldest_undelivered_at=stored.oldest_undelivered_at,
            watched=stored.watched,
            database_bytes=stored.database_bytes,
            last_attempts=ops_store.last_attempts(
                conn, default_channel=settings.slack_channel_id, now=facts.now
            ),
        )
        verdict = judge(facts, limits(settings))
        ops_store.record_verdict(
            conn,
            holding=verdict.holding,
            judged=verdict.judged,
            now=facts.now,
            run_id=run_id,
            ops_channel=settings.slack_ops_channel_id,
        )
        deliver_operations(conn, settings, channel=channel, now=facts.now)
        return [condition.headline for condition in ops_store.conditions(conn)]
    except (BestsellerError, psycopg.Error) as exc:
        log.warning("could not record or post operations conditions: %s", exc)
        return []


def deliver_operations(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    channel: AlertChannel,
    now: datetime,
) -> None:
    """Post due operations messages (claim, post with metadata, mark sent), then bring the
    messages of open conditions up to date in place."""
    # A pass that failed early never reached alert delivery: settle interrupted posts.
    reconcile(
        conn, channel=channel, default_channel=settings.slack_channel_id, report=DeliveryReport()
    )
    token = outbox_store.new_claim_token()
    for post in ops_store.due_posts(conn):
        message = (
            condition_message(post.condition)
            if post.event == "raised"
            else resolved_message(post.condition)
        )
        message = replace(message, outbox_ids=(post.id,))
        if not channel.live(post.channel):
            if outbox_store.mark_printed(conn, [post.id]):
                channel.post(channel=post.channel, message=message)
            continue
        if not outbox_store.claim(conn, [post.id], token=token):
            continue  # another delivery took it
        try:
            ts = channel.post(channel=post.channel, message=message)
        except DeliveryError as exc:
            log.warning("operations message not delivered: %s", exc)
            if not isinstance(exc, DeliveryUnknown):
                outbox_store.release(conn, [post.id], error=str(exc), token=token)
            return
        held = outbox_store.mark_sent(conn, [post.id], channel=post.channel, ts=ts, token=token)
        if held and post.event == "raised":
            ops_store.mark_shown(conn, condition_id=post.condition.id, text=shown_text(message))
    if channel.live_anywhere():
        refresh_messages(conn, channel=channel, now=now)


# A notice already in the operations channel this recently is not posted again.
UNWRITABLE_TOLD_FOR = timedelta(days=7)
UNWRITABLE_MARK = "database_unwritable"


def announce_unwritable(settings: Settings, *, what: str, now: datetime) -> None:
    """The database refuses writes, so it cannot record the condition: tell the operations
    channel from Slack alone, once (a notice found in the channel's history of the last week
    is not posted again). Best effort: Slack failing too is a warning."""
    if not (settings.slack_bot_token and settings.slack_ops_channel_id):
        return
    channel = settings.slack_ops_channel_id
    sender = slack_sender(settings)
    condition = database_unwritable(what)
    text = f"🚨 {condition.headline}: {condition.effect}. Fix: {condition.fix}."
    message = ops_message(text, f"Since {utc(now)} · told once: the database cannot record it")
    try:
        if sender.marked(channel=channel, mark=UNWRITABLE_MARK, oldest=now - UNWRITABLE_TOLD_FOR):
            return
        sender.post(
            channel=channel, message=slack_message(message), outbox_ids=[], mark=UNWRITABLE_MARK
        )
    except DeliveryError as exc:
        log.warning("the operations channel could not be told: %s", exc)


def refresh_messages(conn: psycopg.Connection, *, channel: AlertChannel, now: datetime) -> None:
    for posted in ops_store.posted_conditions(conn, now=now):
        message = condition_message(posted.condition)
        if shown_text(message) == posted.shown_text or not channel.live(posted.channel):
            continue
        try:
            channel.update(channel=posted.channel, ref=posted.ts, message=message)
        except DeliveryError as exc:
            log.warning("operations message not updated: %s", exc)
            return
        ops_store.mark_shown(conn, condition_id=posted.condition.id, text=shown_text(message))


def shown_text(message: Outgoing) -> str:
    """What a notice said, to tell whether its message needs updating."""
    return f"{mrkdwn_text(message.notice or '')} ({mrkdwn_text(message.status or '')})"


def condition_message(condition: ops_store.OpsCondition) -> Outgoing:
    """The condition as it stands: what, effect, fix; since when and for how many passes."""
    passes = f"{condition.passes} pass" + ("" if condition.passes == 1 else "es")
    if condition.closed_at is None:
        icon, status = "🚨", f"Open since {utc(condition.opened_at)} · {passes}"
    else:
        icon = "✅"
        status = f"Resolved {utc(condition.closed_at)} · open since {utc(condition.opened_at)}"
        status += f" · {passes}"
    text = f"{icon} {condition.headline}: {condition.effect}. Fix: {condition.fix}."
    return ops_message(text, status)


def resolved_message(condition: ops_store.OpsCondition) -> Outgoing:
    closed = utc(condition.closed_at) if condition.closed_at else "now"
    text = f"✅ Resolved: {condition.headline}."
    return ops_message(text, f"Open from {utc(condition.opened_at)} to {closed}")


def ops_message(text: str, status: str) -> Outgoing:
    return Outgoing(outbox_ids=(), notice=text, status=status)
