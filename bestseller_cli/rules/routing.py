"""Who hears about a change, and where: pure rules over clients' notification rules."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Literal, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bestseller_cli.kinds import ChangeKind, kind_of
from bestseller_cli.models import Change
from bestseller_cli.redact import shown_url
from bestseller_cli.rules.badges import TopSizes, crosses_top

DeliveryMode = Literal["instant", "hourly", "daily"]
DELIVERY_MODES: tuple[str, ...] = ("instant", "hourly", "daily")
# An outbox address naming a rule's webhook rather than a Slack channel.
WEBHOOK_PREFIX = "webhook:"


def webhook_address(rule_id: int) -> str:
    return f"{WEBHOOK_PREFIX}{rule_id}"


@dataclass(frozen=True)
class Rule:
    """A client's notification rule for one Slack channel (and, with `webhook_url`, a
    webhook: as well as the channel, or instead of the default channel when it names none),
    or the global defaults.

    The fields are the columns of notification_rules (`column` names one spelled otherwise;
    `generated` ones the database sets): a new rule option is a field here, a migration
    column and a CLI option."""

    client_id: int | None = None  # None: the global defaults
    # None: the default channel at delivery
    channel: str | None = field(default=None, metadata={"column": "slack_channel_id"})
    notify_gained: bool = True
    notify_lost: bool = True
    max_main_rank: int | None = None
    ignored_category_ids: tuple[int, ...] = ()
    delivery_mode: DeliveryMode = "instant"
    daily_hour: int | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"
    renotify_window_minutes: int = 120
    top_n: int = 0  # > 1: also hear of tracked products entering or leaving ranks 2..N
    top_n_main: bool = False  # ... in their main category too
    active: bool = True
    # A secret: never printed whole (redact.shown_url).
    webhook_url: str | None = field(default=None, repr=False)
    id: int | None = field(default=None, compare=False, metadata={"generated": True})
    created_at: datetime | None = field(default=None, compare=False, metadata={"generated": True})

    def __post_init__(self) -> None:
        # Any iterable of ids (the database's array) becomes one sorted tuple.
        ignored = tuple(sorted(self.ignored_category_ids))
        object.__setattr__(self, "ignored_category_ids", ignored)

    @property
    def quiet(self) -> str | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return f"{self.quiet_start:%H:%M}-{self.quiet_end:%H:%M}"

    def as_record(self) -> dict[str, Any]:
        """The rule's options as plain JSON-able values (the `clients list --json` shape):
        quiet hours as one "HH:MM-HH:MM" value."""
        record: dict[str, Any] = {}
        for option in fields(self):
            if option.name in {"client_id", "created_at", "quiet_end", "id"}:
                continue
            if option.name == "webhook_url":
                record["webhook"] = shown_url(self.webhook_url) if self.webhook_url else None
                continue
            if option.name == "quiet_start":
                record["quiet"] = self.quiet
                continue
            value = getattr(self, option.name)
            record[option.name] = list(value) if isinstance(value, tuple) else value
        return record


@dataclass(frozen=True)
class Delivery:
    """One outbox row to write: a change announced to one channel (None = default)."""

    change: Change
    client_id: int | None
    channel: str | None
    deliver_after: datetime
    delivery_mode: str = "instant"
    renotify_window_minutes: int = 0
    # A later change of the same subject found by the same check tells this one too: kept
    # as suppressed, never posted on its own (fold_between_checks).
    folded_into_later: bool = False


def rule_zone(name: str) -> tzinfo:
    """The rule's time zone; UTC when this machine does not know it (`unknown_zones` says
    which, so the pass can record it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def unknown_zones(rules: Iterable[Rule]) -> list[str]:
    return sorted({rule.timezone for rule in rules if rule_zone(rule.timezone) is UTC} - {"UTC"})


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    """Quiet hours may wrap midnight (22:00-07:00)."""
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def deliver_after(rule: Rule, detected_at: datetime) -> datetime:
    """When an alert may go out under the rule: now, at the next digest, or when quiet
    hours end, in the rule's time zone."""
    zone = rule_zone(rule.timezone)
    local = detected_at.astimezone(zone)
    if rule.delivery_mode == "hourly":
        local = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    elif rule.delivery_mode == "daily":
        hour = rule.daily_hour or 0
        target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        local = target if target > local else target + timedelta(days=1)
    start, end = rule.quiet_start, rule.quiet_end
    if start is not None and end is not None and in_quiet_hours(local.time(), start, end):
        quiet_over = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        local = quiet_over if quiet_over > local else quiet_over + timedelta(days=1)
    # Round trip through UTC so that a wall time skipped by DST still orders correctly.
    return local.astimezone(UTC)


def top_sizes(rules: Iterable[Rule]) -> TopSizes:
    """The top-N crossings that some rule wants to hear of (badges.observe)."""
    asked = [rule for rule in rules if rule.top_n]
    return TopSizes(
        categories=frozenset(rule.top_n for rule in asked),
        main=frozenset(rule.top_n for rule in asked if rule.top_n_main),
    )


def applies(rule: Rule, change: Change, *, main_category_id: int | None = None) -> bool:
    """Whether the rule wants the change. A top-N change reaches the rules whose own N it
    crosses, in the product's main category (`main_category_id`) only those that ask."""
    if not getattr(rule, kind_of(change.kind).rule_flag):
        return False
    match change.kind:
        case ChangeKind.GAINED | ChangeKind.LOST | ChangeKind.NEW_HOLDER | ChangeKind.LIST_TOP_N:
            pass
        case ChangeKind.ENTERED_TOP_N | ChangeKind.LEFT_TOP_N:
            if not crosses_top(change.rank_before, change.rank_after, rule.top_n):
                return False
            if change.category_id == main_category_id and not rule.top_n_main:
                return False
        case unknown:
            assert_never(unknown)
    if change.category_id in rule.ignored_category_ids:
        return False
    return not (
        rule.max_main_rank is not None
        and change.main_rank is not None
        and change.main_rank > rule.max_main_rank
    )


def deliveries_for(
    change: Change,
    *,
    trackers: Iterable[int | None],
    rules_by_client: dict[int, Sequence[Rule]],
    defaults: Rule,
    main_category_id: int | None = None,
) -> list[Delivery]:
    """One delivery per distinct channel among the rules of every client tracking the ASIN.

    An ASIN tracked without a client, or by a client with no rule, follows the defaults."""
    rules: list[Rule] = []
    for client in dict.fromkeys(trackers):
        client_rules = rules_by_client.get(client, ()) if client is not None else ()
        rules.extend(client_rules or [replace(defaults, client_id=client)])
    by_channel: dict[str | None, Delivery] = {}
    for rule in rules:
        if not applies(rule, change, main_category_id=main_category_id):
            continue
        for address in addresses(rule):
            if address not in by_channel:
                by_channel[address] = Delivery(
                    change=change,
                    client_id=rule.client_id,
                    channel=address,
                    deliver_after=deliver_after(rule, change.detected_at),
                    delivery_mode=rule.delivery_mode,
                    renotify_window_minutes=rule.renotify_window_minutes,
                )
    return list(by_channel.values())


def addresses(rule: Rule) -> list[str | None]:
    """Where the rule's alerts go: its Slack channel (None: the default one) and its webhook;
    a rule with a webhook and no channel of its own goes to the webhook only."""
    if rule.webhook_url is None or rule.id is None:
        return [rule.channel]
    webhook = webhook_address(rule.id)
    return [webhook] if rule.channel is None else [rule.channel, webhook]


def fold_between_checks(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """One check may find several changes of one subject in a category (gained #1 at 09:12,
    lost it at 09:40): each channel gets one message, the last change's, which tells the
    earlier ones (story.between_checks_line); the earlier ones are kept as folded into it."""

    def subject(delivery: Delivery) -> tuple[object, ...]:
        change = delivery.change
        topic = kind_of(change.kind).subject
        return delivery.channel, change.asin, change.marketplace, change.category_id, topic

    last: dict[tuple[object, ...], datetime] = {}
    for delivery in deliveries:
        key = subject(delivery)
        last[key] = max(last.get(key, delivery.change.changed_at), delivery.change.changed_at)
    return [
        replace(delivery, folded_into_later=True)
        if delivery.change.changed_at < last[subject(delivery)]
        else delivery
        for delivery in deliveries
    ]
