"""The story an alert tells beyond the change itself, as pure functions: who took #1 (or
whom it displaced), the rank trajectory, how long the badge was held, and flapping."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import assert_never

from bestseller_cli.kinds import ChangeKind, kind_of
from bestseller_cli.models import Change, ListMove


@dataclass(frozen=True)
class OtherProduct:
    asin: str
    title: str | None
    own: bool  # one of the alerted client's own products, else a tracked competitor


@dataclass(frozen=True)
class ListedHolder:
    """The head of Keepa's best seller list for a loss no tracked product explains (a
    watched category's list near the loss, else the holder lookup's): who led when Keepa
    last rebuilt the list (`updated_at`), not necessarily this hour; its title when known."""

    asin: str
    updated_at: datetime | None
    title: str | None = None


@dataclass(frozen=True)
class AlertStory:
    """What our own records say around one change; no Keepa tokens are spent on it."""

    other: OtherProduct | None = None  # the new holder of a loss, the displaced of a gain
    listed_holder: ListedHolder | None = None  # a loss no tracked product explains
    ranks: Sequence[int | None] = ()  # this category's rank over the recent past, oldest first
    badge_since: datetime | None = None  # a loss: when the badge was gained
    since_is_lower_bound: bool = False  # held since at least then (gained before we watched)
    last_held_until: datetime | None = None  # a gain: when it last lost this badge
    # Earlier changes of the same subject that the same check found (Keepa's times), oldest
    # first: this alert tells them too.
    between_checks: Sequence[tuple[ChangeKind, datetime]] = ()


def trajectory(ranks: Sequence[int | None]) -> str:
    """`#7 → #4 → #2 → #1`, repeated ranks folded; "unranked" where there was no rank."""
    steps: list[str] = []
    for rank in ranks:
        step = f"#{rank:,}" if rank is not None else "unranked"
        if not steps or steps[-1] != step:
            steps.append(step)
    return " → ".join(steps)


def duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def describe(other: OtherProduct) -> str:
    whose = "your product" if other.own else "tracked competitor"
    title = f" {other.title}" if other.title else ""
    return f"{other.asin}{title} ({whose})"


def new_holder_line(change: Change, story: AlertStory) -> str:
    if story.other:
        return f"Now #1: {describe(story.other)}"
    listed = story.listed_holder
    if listed is None:
        return "Now #1: not known yet (no tracked product holds it)"
    as_of = f", updated {listed.updated_at:%Y-%m-%d %H:%M} UTC" if listed.updated_at else ""
    if listed.asin == change.asin:
        return f"Now #1: holder unknown (Keepa's best seller list{as_of} still shows this product)"
    title = f" {listed.title}" if listed.title else ""
    return f"Now #1 per Keepa's best seller list{as_of}: {listed.asin}{title}"


# Keepa refreshes a product about hourly when asked; older data is worth saying.
STALE_AFTER = timedelta(hours=1)


def freshness_line(change: Change) -> str | None:
    """When Keepa last looked at the product, if more than an hour before the check."""
    seen = change.keepa_seen_at
    if seen is None or change.detected_at - seen <= STALE_AFTER:
        return None
    age = duration(change.detected_at - seen)
    return f"Keepa last saw this product {seen:%Y-%m-%d %H:%M} UTC ({age} before this check)"


def awaits_other_side(change: Change, story: AlertStory) -> bool:
    """A loss waits for its new holder (tracked, or from Keepa's list), a gain for whom it
    displaced: a message posted without it is updated when a later batch or pass finds it."""
    match change.kind:
        case ChangeKind.LOST:
            return story.other is None and story.listed_holder is None
        case ChangeKind.GAINED:
            return story.other is None
        case ChangeKind.ENTERED_TOP_N | ChangeKind.LEFT_TOP_N:
            return False  # no other side: the rank trajectory tells it
        case ChangeKind.NEW_HOLDER | ChangeKind.LIST_TOP_N:
            return False  # the list named both sides
        case unknown:
            assert_never(unknown)


def between_checks_line(change: Change, story: AlertStory) -> str | None:
    """What came and went between two checks, at Keepa's times: `Between two checks, per
    Keepa: held #1 from 09:12 to 09:40 UTC` for the badge, each change in turn otherwise."""
    if not story.between_checks:
        return None
    steps = [*story.between_checks, (change.kind, change.changed_at)]
    if change.kind not in (ChangeKind.GAINED, ChangeKind.LOST):
        told = " → ".join(f"{kind_of(kind).verb} at {at:%H:%M}" for kind, at in steps)
        return f"Between two checks, per Keepa: {told} UTC"
    periods: list[str] = []
    for index, (kind, at) in enumerate(steps):
        until = steps[index + 1][1] if index + 1 < len(steps) else None
        if kind == ChangeKind.GAINED:
            periods.append(f"from {at:%H:%M} to {until:%H:%M}" if until else f"since {at:%H:%M}")
        elif index == 0:
            periods.append(f"until {at:%H:%M}")
    return f"Between two checks, per Keepa: held #1 {', and '.join(periods)} UTC"


def story_lines(change: Change, story: AlertStory) -> list[str]:
    before, after = kind_lines(change, story)
    between = between_checks_line(change, story)
    if between:
        before.insert(0, between)
    if len(story.ranks) > 1:
        before.append(f"Rank, last 24 h: {trajectory(story.ranks)}")
    stale = freshness_line(change)
    return before + after + ([stale] if stale else [])


def kind_lines(change: Change, story: AlertStory) -> tuple[list[str], list[str]]:
    """What each kind of change tells, before the rank trajectory and after it."""
    match change.kind:
        case ChangeKind.LOST:
            held: list[str] = []
            if story.badge_since:
                at_least = "at least " if story.since_is_lower_bound else ""
                held.append(
                    f"Held #1 for {at_least}{duration(change.changed_at - story.badge_since)}"
                )
            return [new_holder_line(change, story)], held
        case ChangeKind.GAINED:
            displaced = [f"Displaced: {describe(story.other)}"] if story.other else []
            if story.last_held_until:
                return displaced, [f"Last held #1 until {story.last_held_until:%Y-%m-%d %H:%M} UTC"]
            return displaced, ["First time at #1 here since we started watching"]
        case ChangeKind.ENTERED_TOP_N | ChangeKind.LEFT_TOP_N:
            return [], []
        case ChangeKind.NEW_HOLDER | ChangeKind.LIST_TOP_N:
            return list_lines(change), [list_source_line(change)]
        case unknown:
            assert_never(unknown)


ROLES = {"own": "your product", "competitor": "tracked competitor", "untracked": "untracked"}


def describe_listed(move: ListMove) -> str:
    title = f" {move.title}" if move.title else ""
    return f"{move.asin}{title} ({ROLES.get(move.role, move.role)})"


def list_lines(change: Change) -> list[str]:
    """A watched category's change, from its list: the new #1 and the one it displaced, or
    each product that entered or left the top N."""
    moves = change.list_moves or []
    if change.kind == ChangeKind.NEW_HOLDER:
        lines = [f"Now #1: {describe_listed(move)}" for move in moves[:1]]
        for move in moves[1:]:
            now = f", now #{move.rank_after}" if move.rank_after else ""
            lines.append(f"Before: {describe_listed(move)}{now}")
        return lines
    entered = [m for m in moves if m.rank_before is None and m.rank_after is not None]
    left = [m for m in moves if m.rank_after is None and m.rank_before is not None]
    return [f"Entered at #{m.rank_after}: {describe_listed(m)}" for m in entered] + [
        f"Left (was #{m.rank_before}): {describe_listed(m)}" for m in left
    ]


def list_source_line(change: Change) -> str:
    """Honest about the source: Keepa's list, as of its own update time."""
    return (
        "Per Keepa's best seller list (sub-category rank), updated"
        f" {change.changed_at:%Y-%m-%d %H:%M} UTC"
    )


def flap_line(kinds: Sequence[str], *, window: timedelta) -> str:
    """`Flapping: gained → lost → gained within 2 h 0 min` for a message being updated."""
    steps = " → ".join(kind_of(kind).bucket for kind in kinds)
    return f"⚠️ Flapping: {steps} within {duration(window)}; latest below"
