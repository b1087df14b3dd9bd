"""A product's rank chart and its sparkline, as SVG text, from a `ProductChart`.

The chart: rank over time in each category drawn, log scale with #1 at the top; periods at #1
shaded gold; gains and losses marked (▲ green, ▼ red, with a tooltip); "not ranked" as a
dashed line in a lane under the ranks; periods not observed in grey, periods Keepa had no data
for in darker grey, pruned periods in blue with gold where the spans say #1 was held. It has
a title and a text alternative that says the same in words.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from bestseller_cli.kinds import ChangeKind, kind_of
from bestseller_cli.models import Change
from bestseller_cli.rules.rank_history import NOT_RANKED, Coverage, ProductChart, Series
from bestseller_cli.rules.svg import (
    PALETTE,
    RankScale,
    element,
    local_time,
    num,
    points,
    runs,
    svg_document,
    text,
    time_ticks,
    tooltip,
    zone_name,
)

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP = 58, 14, 40
BOTTOM = HEIGHT - 92  # the worst rank's line; the "not ranked" lane lies under it
LANE = BOTTOM + 16
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
_COVERAGE_CLASS = {
    Coverage.UNOBSERVED: "unobserved",
    Coverage.NO_DATA: "nodata",
    Coverage.SUMMARIZED: "summarized",
}
_LEGEND = [
    ("at1", "#1"),
    ("unobserved", "not observed"),
    ("nodata", "Keepa had no data"),
    ("summarized", "pruned: only #1 or not"),
]


class _Frame:
    """Where buckets, times and ranks fall in a chart: x from left to right, ranks on `scale`."""

    def __init__(self, chart: ProductChart, *, left: float, right: float, scale: RankScale):
        self.chart, self.left, self.right, self.scale = chart, left, right, scale

    def x(self, bucket: int) -> float:
        return self.left + (self.right - self.left) * bucket / self.chart.grid.count

    def x_at(self, moment: datetime) -> float:
        return self.left + (self.right - self.left) * self.chart.grid.fraction(moment)

    def y(self, rank: int, *, lane: float) -> float:
        return lane if rank == NOT_RANKED else self.scale.y(rank)


def worst_rank(chart: ProductChart) -> int:
    ranks = [rank for line in chart.series for rank in line.ranks if rank]
    ranks += [m.change.rank_after or 1 for m in chart.markers]
    return max(ranks, default=10)


def product_svg(
    chart: ProductChart, *, title: str, zone: ZoneInfo, styled: bool = True, key: str = ""
) -> str:
    """The chart of one product (see the module's docstring)."""
    scale = RankScale(worst_rank(chart), top=TOP, bottom=BOTTOM)
    frame = _Frame(chart, left=LEFT, right=WIDTH - RIGHT, scale=scale)
    parts = [
        *coverage_rects(frame, top=TOP - 6, bottom=LANE + 6),
        *y_axis(frame),
        *x_axis(frame, zone=zone, y=LANE + 8),
        *series_lines(frame, lane=LANE),
        *markers(frame, zone=zone, lane=LANE),
        text(LEFT, 20, title, class_="title"),
        *legend(chart.series, y=HEIGHT - 30, zone=zone),
    ]
    return svg_document(
        "".join(parts),
        width=WIDTH,
        height=HEIGHT,
        title=title,
        desc=describe(chart, zone=zone),
        styled=styled,
        key=key or chart.asin,
    )


def coverage_rects(frame: _Frame, *, top: float, bottom: float) -> list[str]:
    """Shading: each run of buckets not observed, without data or pruned, then #1 over it."""
    chart = frame.chart
    rects = []
    for state, css in _COVERAGE_CLASS.items():
        for start, end in runs([c is state for c in chart.coverage]):
            rects.append(_band(frame, start, end, top, bottom, css))
    at_one = [chart.at_one(b) for b in range(chart.grid.count)]
    for start, end in runs(at_one):
        pruned = all(chart.coverage[b] is Coverage.SUMMARIZED for b in range(start, end))
        rects.append(_band(frame, start, end, top, bottom, "held" if pruned else "at1"))
    return rects


def _band(frame: _Frame, start: int, end: int, top: float, bottom: float, css: str) -> str:
    x0, x1 = frame.x(start), frame.x(end)
    return element(
        "rect", x=num(x0), y=num(top), width=num(x1 - x0), height=num(bottom - top), class_=css
    )


def y_axis(frame: _Frame) -> list[str]:
    parts = []
    labelled = frame.scale.labelled()
    for tick in frame.scale.ticks:
        y = frame.scale.y(tick)
        parts.append(
            element("line", x1=LEFT, x2=num(frame.right), y1=num(y), y2=num(y), class_="grid")
        )
        if tick in labelled:
            parts.append(text(LEFT - 6, y + 4, f"#{tick:,}", text_anchor="end"))
    parts.append(text(LEFT - 6, LANE + 4, "none", text_anchor="end"))
    return parts


def x_axis(frame: _Frame, *, zone: ZoneInfo, y: float) -> list[str]:
    grid = frame.chart.grid
    parts = [element("line", x1=LEFT, x2=num(frame.right), y1=num(y), y2=num(y), class_="axis")]
    for moment, label in time_ticks(grid.since, grid.until, zone):
        x = frame.x_at(moment)
        parts.append(element("line", x1=num(x), x2=num(x), y1=num(y), y2=num(y + 4), class_="axis"))
        anchor = "end" if x > frame.right - 20 else "middle"
        parts.append(text(x, y + 16, label, text_anchor=anchor))
    return parts


def step_runs(
    frame: _Frame, line: Series, *, lane: float
) -> list[tuple[bool, list[tuple[float, float]]]]:
    """Each run of buckets with a rank (or of "not ranked") as the corners of a step line."""
    found: list[tuple[bool, list[tuple[float, float]]]] = []
    previous: int | None = None  # the rank of the bucket before
    for bucket, rank in enumerate(line.ranks):
        if rank is not None:
            unranked = rank == NOT_RANKED
            y = frame.y(rank, lane=lane)
            x0, x1 = frame.x(bucket), frame.x(bucket + 1)
            if previous is not None and (previous == NOT_RANKED) == unranked:
                corners = found[-1][1]
                if corners[-1][1] == y:
                    corners[-1] = (x1, y)
                else:
                    corners += [(x0, y), (x1, y)]
            else:
                found.append((unranked, [(x0, y), (x1, y)]))
        previous = rank
    return found


def series_lines(frame: _Frame, *, lane: float) -> list[str]:
    parts = []
    for n, line in enumerate(frame.chart.series):
        colour = PALETTE[n % len(PALETTE)]
        for unranked, corners in step_runs(frame, line, lane=lane):
            parts.append(
                element(
                    "polyline",
                    tooltip(f"{line.label}{': not ranked' if unranked else ''}"),
                    points=points(corners),
                    class_="unranked" if unranked else "line",
                    stroke=colour,
                    data_series=n,
                )
            )
    return parts


def markers(frame: _Frame, *, zone: ZoneInfo, lane: float) -> list[str]:
    """▲ at #1 for a gain, ▼ at the rank after it for a loss, each with its words."""
    parts = []
    for marker in frame.chart.markers:
        change = marker.change
        if change.kind not in (ChangeKind.GAINED, ChangeKind.LOST):
            continue
        x = frame.x_at(marker.at)
        gained = change.kind == ChangeKind.GAINED
        y = frame.scale.y(1) if gained else frame.y(change.rank_after or NOT_RANKED, lane=lane)
        corners = (
            [(x, y - 9), (x - 6, y + 2), (x + 6, y + 2)]
            if gained
            else [(x, y + 9), (x - 6, y - 2), (x + 6, y - 2)]
        )
        label = marker_text(marker.change, frame.chart.series[marker.series], zone)
        parts.append(
            element(
                "polygon",
                tooltip(label),
                points=points(corners),
                class_=change.kind.value,
                data_series=marker.series,
            )
        )
    return parts


def marker_text(change: Change, line: Series, zone: ZoneInfo) -> str:
    after = "not ranked" if change.rank_after is None else f"#{change.rank_after:,}"
    moment = local_time(change.detected_at, zone)
    return f"{kind_of(change.kind).verb} in {line.label} ({after}), {moment}"


def legend(series: list[Series], *, y: float, zone: ZoneInfo) -> list[str]:
    parts, x = [], LEFT
    for n, line in enumerate(series):
        label = line.label if len(line.label) <= 34 else line.label[:33] + "…"
        colour = PALETTE[n % len(PALETTE)]
        parts.append(
            element(
                "line", x1=x, x2=x + 16, y1=num(y - 4), y2=num(y - 4), class_="line", stroke=colour
            )
        )
        parts.append(text(x + 20, y, label))
        x += 28 + 6.2 * len(label)
        if x > WIDTH - 160:
            x, y = LEFT, y + 14
    x, y = LEFT, HEIGHT - 8
    for css, label in _LEGEND:
        parts.append(element("rect", x=x, y=num(y - 9), width=12, height=10, class_=css))
        parts.append(text(x + 16, y, label))
        x += 30 + 6.2 * len(label)
    parts.append(
        element(
            "line",
            x1=x,
            x2=x + 16,
            y1=num(y - 4),
            y2=num(y - 4),
            class_="unranked",
            stroke=PALETTE[0],
        )
    )
    parts.append(text(x + 20, y, "not ranked"))
    parts.append(text(WIDTH - RIGHT, y, f"times in {zone_name(zone)}", text_anchor="end"))
    return parts


def describe(chart: ProductChart, *, zone: ZoneInfo) -> str:
    """The chart in words: per series its best and last rank and when it was #1; what was
    not observed; the badge changes."""
    grid = chart.grid
    sentences = [
        f"{chart.asin} from {local_time(grid.since, zone)} to {local_time(grid.until, zone)}."
    ]
    for line in chart.series:
        ranks = [rank for rank in line.ranks if rank]
        if not ranks:
            sentences.append(f"{line.label}: not ranked.")
            continue
        last = next(rank for rank in reversed(line.ranks) if rank is not None)
        words = (
            f"{line.label}: best #{min(ranks):,}, last {'not ranked' if not last else f'#{last:,}'}"
        )
        periods = [
            f"{local_time(grid.start(a), zone)} to {local_time(grid.start(b), zone)}"
            for a, b in runs([line.at_one(bucket) for bucket in range(grid.count)])
        ]
        sentences.append(words + (f"; #1 from {'; '.join(periods)}." if periods else "."))
    gaps = runs([c is Coverage.UNOBSERVED for c in chart.coverage])
    if gaps:
        sentences.append(f"Not observed in {len(gaps)} period(s).")
    pruned = runs([c is Coverage.SUMMARIZED for c in chart.coverage])
    if pruned:
        held = runs(
            [
                c is Coverage.SUMMARIZED and bool(h)
                for c, h in zip(chart.coverage, chart.holding, strict=True)
            ]
        )
        sentences.append(
            f"Pruned history in {len(pruned)} period(s): ranks not kept;"
            f" #1 held somewhere in {len(held)} of its stretches."
        )
    for marker in chart.markers:
        if marker.change.kind in (ChangeKind.GAINED, ChangeKind.LOST):
            sentences.append(marker_text(marker.change, chart.series[marker.series], zone) + ".")
    return " ".join(sentences)


def sparkline_svg(chart: ProductChart, *, title: str, styled: bool = True, key: str = "") -> str:
    """A small line of the best rank in any drawn series, #1 periods shaded."""
    best = chart.best_ranks()
    scale = RankScale(max((r for r in best if r), default=10), top=3, bottom=SPARK_HEIGHT - 3)
    frame = _Frame(chart, left=0, right=SPARK_WIDTH, scale=scale)
    line = Series(label="best rank", category_id=None, main=False, ranks=best)
    parts = [
        _band(frame, a, b, 0, SPARK_HEIGHT, "at1")
        for a, b in runs([chart.at_one(i) for i in range(chart.grid.count)])
    ]
    for unranked, corners in step_runs(frame, line, lane=SPARK_HEIGHT - 2):
        parts.append(
            element(
                "polyline",
                points=points(corners),
                class_="unranked" if unranked else "line",
                stroke=PALETTE[1],
            )
        )
    ranks = [r for r in best if r]
    desc = f"best rank #{min(ranks):,}, last #{ranks[-1]:,}" if ranks else "no rank known"
    return svg_document(
        "".join(parts),
        width=SPARK_WIDTH,
        height=SPARK_HEIGHT,
        title=title,
        desc=desc,
        styled=styled,
        key=f"s-{key or chart.asin}",
    )
