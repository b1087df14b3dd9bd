"""Who held #1: for each category where tracked products took #1 from each other in a
period, when each held it, from the period's badge changes and today's holders; and its
SVG (one lane per product, a bar per tenure).

Only categories where at least two tracked products gained or lost #1 are drawn: elsewhere
the product's own chart says it all.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import Change
from bestseller_cli.pictures.svg import (
    PALETTE,
    element,
    local_time,
    num,
    svg_document,
    text,
    time_ticks,
    tooltip,
    zone_name,
)
from bestseller_cli.shapes.report_models import Holder

WIDTH = 720
LABEL_WIDTH = 150
LANE_HEIGHT = 24
TOP = 34


@dataclass(frozen=True)
class Tenure:
    """A stretch at #1: `since_before` when held already at the period's start, `ongoing`
    when still held at its end."""

    start: datetime
    end: datetime
    since_before: bool = False
    ongoing: bool = False


@dataclass(frozen=True)
class Lane:
    asin: str
    title: str | None
    tenures: list[Tenure]
    note: str | None = None  # shown instead of the title, and in words: "untracked"


@dataclass(frozen=True)
class CategoryTimeline:
    marketplace: str
    category_id: int
    name: str
    since: datetime
    until: datetime
    lanes: list[Lane]


def holder_timelines(
    events: list[Change], holders: list[Holder], *, since: datetime, until: datetime
) -> list[CategoryTimeline]:
    """Categories where two or more tracked products gained or lost #1 in the period."""
    badges = [e for e in events if e.kind in (ChangeKind.GAINED, ChangeKind.LOST)]
    by_category: dict[tuple[str, int], list[Change]] = {}
    for event in sorted(badges, key=lambda e: e.changed_at):
        by_category.setdefault((event.marketplace, event.category_id), []).append(event)
    timelines = []
    for (marketplace, category), changes in sorted(by_category.items()):
        asins = {change.asin for change in changes}
        if len(asins) < 2:
            continue
        holding_now = {
            h.asin: h
            for h in holders
            if h.marketplace == marketplace and any(b.category_id == category for b in h.badges)
        }
        titles = {c.asin: c.title for c in changes} | {a: h.title for a, h in holding_now.items()}
        lanes = [
            Lane(asin=asin, title=titles.get(asin), tenures=tenures)
            for asin in sorted(asins | set(holding_now))
            if (
                tenures := tenures_of(
                    [c for c in changes if c.asin == asin],
                    since,
                    until,
                    held_now=asin in holding_now,
                )
            )
        ]
        name = next((c.category_name for c in reversed(changes) if c.category_name), None)
        timelines.append(
            CategoryTimeline(
                marketplace=marketplace,
                category_id=category,
                name=name or f"category {category}",
                since=since,
                until=until,
                lanes=lanes,
            )
        )
    return timelines


def tenures_of(
    changes: list[Change], since: datetime, until: datetime, *, held_now: bool
) -> list[Tenure]:
    """One product's stretches at #1 from its gains and losses (oldest first). A loss with no
    gain before it was held since before the period; a gain with no loss after it, or a
    product holding #1 now without any change, holds it still."""
    tenures: list[Tenure] = []
    started: datetime | None = None
    since_before = False
    first = changes[0].kind if changes else None
    if first == ChangeKind.LOST or (first is None and held_now):
        started, since_before = since, True
    for change in changes:
        if change.kind == ChangeKind.GAINED and started is None:
            started = change.changed_at
        elif change.kind == ChangeKind.LOST and started is not None:
            tenures.append(Tenure(start=started, end=change.changed_at, since_before=since_before))
            started, since_before = None, False
    if started is not None:
        tenures.append(Tenure(start=started, end=until, since_before=since_before, ongoing=True))
    return tenures


def timeline_svg(
    timeline: CategoryTimeline, *, zone: ZoneInfo, styled: bool = True, key: str = ""
) -> str:
    """One lane per product, a bar per stretch at #1, the time axis under them."""
    height = TOP + LANE_HEIGHT * len(timeline.lanes) + 40
    left, right = LABEL_WIDTH, WIDTH - 14
    span = (timeline.until - timeline.since).total_seconds()

    def x(moment: datetime) -> float:
        share = (moment - timeline.since).total_seconds() / span
        return left + (right - left) * min(max(share, 0.0), 1.0)

    title = timeline_title(timeline)
    parts = [text(8, 20, title, class_="title")]
    for n, lane in enumerate(timeline.lanes):
        y = TOP + LANE_HEIGHT * n
        label = f"{lane.asin} {lane.note or lane.title or ''}".strip()
        parts.append(text(8, y + 16, label if len(label) <= 21 else label[:20] + "…"))
        colour = PALETTE[(n + 1) % len(PALETTE)]
        for tenure in lane.tenures:
            words = tenure_words(lane, tenure, zone)
            x0, x1 = x(tenure.start), x(tenure.end)
            parts.append(
                element(
                    "rect",
                    tooltip(words),
                    x=num(x0),
                    y=y + 4,
                    width=num(max(x1 - x0, 1.5)),
                    height=LANE_HEIGHT - 8,
                    fill=colour,
                    class_="tenure",
                    data_asin=lane.asin,
                )
            )
    axis = TOP + LANE_HEIGHT * len(timeline.lanes) + 4
    parts.append(element("line", x1=left, x2=right, y1=axis, y2=axis, class_="axis"))
    for moment, label in time_ticks(timeline.since, timeline.until, zone):
        anchor = "end" if x(moment) > right - 20 else "middle"
        parts.append(text(x(moment), axis + 16, label, text_anchor=anchor))
    parts.append(text(8, axis + 16, f"times in {zone_name(zone)}"))
    return svg_document(
        "".join(parts),
        width=WIDTH,
        height=height,
        title=title,
        desc=describe_timeline(timeline, zone=zone),
        styled=styled,
        key=key or f"w-{timeline.marketplace}-{timeline.category_id}",
    )


def timeline_title(timeline: CategoryTimeline) -> str:
    return f"Who held #1 in {timeline.name} (amazon.{timeline.marketplace})"


def describe_timeline(timeline: CategoryTimeline, *, zone: ZoneInfo) -> str:
    """The timeline in words: each stretch at #1 of each product."""
    sentences = [
        tenure_words(lane, tenure, zone) for lane in timeline.lanes for tenure in lane.tenures
    ]
    return " ".join(sentences) or "No product held #1 in the period."


def tenure_words(lane: Lane, tenure: Tenure, zone: ZoneInfo) -> str:
    start = "before " if tenure.since_before else ""
    end = "still holding at " if tenure.ongoing else ""
    whose = f" ({lane.note})" if lane.note else ""
    return (
        f"{lane.asin}{whose} held #1 from {start}{local_time(tenure.start, zone)}"
        f" to {end}{local_time(tenure.end, zone)}."
    )
