"""Who held #1 in a watched category: its holder stretches in the report's period (from
Keepa's best seller list, tracked products or not) as a `CategoryTimeline`, drawn by
`holder_timeline.timeline_svg` in the same style as the tracked products' timeline: one lane
per holder, a bar per stretch; untracked holders are labelled so. Pure: no I/O.
"""

from datetime import datetime

from bestseller_cli.pictures.holder_timeline import CategoryTimeline, Lane, Tenure
from bestseller_cli.shapes.report_models import CategoryHolders, CategoryStretch

UNTRACKED = "untracked"


def category_timeline(
    category: CategoryHolders, *, since: datetime, until: datetime
) -> CategoryTimeline:
    """The category's stretches within [since, until], one lane per holder in the order they
    first held #1 in the period."""
    lanes: dict[str, list[Tenure]] = {}
    stretches: dict[str, CategoryStretch] = {}
    for stretch in sorted(category.stretches, key=lambda s: s.held_from):
        tenure = tenure_of(stretch, since=since, until=until)
        if tenure is not None:
            lanes.setdefault(stretch.asin, []).append(tenure)
            stretches.setdefault(stretch.asin, stretch)
    return CategoryTimeline(
        marketplace=category.marketplace,
        category_id=category.category_id,
        name=category.name or f"category {category.category_id}",
        since=since,
        until=until,
        lanes=[
            Lane(
                asin=asin,
                title=stretches[asin].title,
                tenures=tenures,
                note=UNTRACKED if stretches[asin].role == UNTRACKED else None,
            )
            for asin, tenures in lanes.items()
        ],
    )


def tenure_of(stretch: CategoryStretch, *, since: datetime, until: datetime) -> Tenure | None:
    """A stretch cut to the period; None when it lies outside it."""
    end = stretch.held_until or until
    if end <= since or stretch.held_from >= until:
        return None
    return Tenure(
        start=max(stretch.held_from, since),
        end=min(end, until),
        since_before=stretch.held_from < since,
        ongoing=stretch.held_until is None or stretch.held_until >= until,
    )


def category_timelines(
    categories: list[CategoryHolders], *, since: datetime, until: datetime
) -> list[CategoryTimeline]:
    """A timeline for each watched category with a stretch at #1 in the period."""
    drawn = [category_timeline(c, since=since, until=until) for c in categories]
    return [timeline for timeline in drawn if timeline.lanes]
