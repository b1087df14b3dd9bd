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
from bestseller_cli.pictures.svg import (
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
from bestseller_cli.shapes.rank_history import NOT_RANKED, Coverage, ProductChart, Series

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP = 58, 14, 40
BOTTOM = HEIGHT - 92  # the worst rank's line; the "not ranked" lane lies under it
LANE = BOTTOM + 16
SPARK_WIDTH, SPARK_HEIGHT = 120, 28
# Moves of the line smaller than this many pixels are not drawn (a main rank moves every
# pass): what a chart of 720 pixels can show, at a fraction of the bytes. #1 always is.
MIN_STEP = 1.5
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
    """Where buckets, times and ranks fall in a chart: x from left to right over `count`
    buckets, ranks on `scale`, "not ranked" in the lane at `lane`."""

    def __init__(
        self, chart: ProductChart, *, left: float, right: float, scale: RankScale, lane: float
    ):
        self.chart, self.left, self.right, self.scale, self.lane = chart, left, right, scale, lane
        self.count = chart.grid.count
        self._ys: dict[int, float] = {NOT_RANKED: lane}

    def x(self, bucket: int) -> float:
        return self.left + (self.right - self.left) * bucket / self.count

    def x_at(self, moment: datetime) -> float:
        return self.left + (self.right - self.left) * self.chart.grid.fraction(moment)

    def y(self, rank: int) -> float:
        found = self._ys.get(rank)
        if found is None:
            found = self._ys[rank] = self.scale.y(rank)
        return found


def worst_rank(chart: ProductChart) -> int:
    ranks = [rank for line in chart.series for rank in line.ranks if rank]
    ranks += [m.change.rank_after or 1 for m in chart.markers]
    return max(ranks, default=10)


def product_svg(
    chart: ProductChart, *, title: str, zone: ZoneInfo, styled: bool = True, key: str = ""
) -> str:
    """The chart of one product (see the module's docstring)."""
    scale = RankScale(worst_rank(chart), top=TOP, bottom=BOTTOM)
    frame = _Frame(chart, left=LEFT, right=WIDTH - RIGHT, scale=scale, lane=LANE)
    parts = [
        *coverage_rects(frame, top=TOP - 6, bottom=LANE + 6),
        *y_axis(frame),
        *x_axis(frame, zone=zone, y=LANE + 8),
        *series_lines(frame),
        *markers(frame, zone=zone),
        text(LEFT, 20, title, class_="title"),
        *series_legend(chart.series, y=HEIGHT - 30),
    ]
    if styled:  # on its own: the shading's key too (a page shows it once, `legend_svg`)
        parts += shading_legend(zone, x=LEFT, y=HEIGHT - 8)
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
    """The ranks' grid lines (one path), the labelled ticks and the "not ranked" lane."""
    ticks = frame.scale.ticks
    lines = "".join(f"M{LEFT} {num(frame.y(tick))}H{num(frame.right)}" for tick in ticks)
    parts = [element("path", d=lines, class_="grid")]
    for tick in frame.scale.labelled():
        parts.append(text(LEFT - 6, frame.y(tick) + 4, f"#{tick:,}", text_anchor="end"))
    parts.append(text(LEFT - 6, LANE + 4, "none", text_anchor="end"))
    return parts


def x_axis(frame: _Frame, *, zone: ZoneInfo, y: float) -> list[str]:
    grid = frame.chart.grid
    ticks = time_ticks(grid.since, grid.until, zone)
    marks = "".join(f"M{num(frame.x_at(moment))} {num(y)}v4" for moment, _ in ticks)
    parts = [element("path", d=f"M{LEFT} {num(y)}H{num(frame.right)}{marks}", class_="axis")]
    for moment, label in ticks:
        x = frame.x_at(moment)
        anchor = "end" if x > frame.right - 20 else "middle"
        parts.append(text(x, y + 16, label, text_anchor=anchor))
    return parts


def step_paths(frame: _Frame, ranks: list[int | None]) -> list[tuple[bool, str]]:
    """Each run of buckets with a rank (or of "not ranked") as a path of steps: `M` at its
    start, `H` along a rank, `V` to the next one."""
    found: list[tuple[bool, list[str]]] = []
    previous: int | None = None  # the rank of the bucket before
    y_now = along = 0.0  # the step drawn so far: its rank's y, and where it ends
    for bucket, rank in enumerate([*ranks, None]):  # None: the last run ends too
        if rank is None:
            if previous is not None:
                found[-1][1].append(f"H{num(along)}")
            previous = None
            continue
        unranked = rank == NOT_RANKED
        y = frame.y(rank)
        if previous is not None and (previous == NOT_RANKED) == unranked:
            if abs(y - y_now) < MIN_STEP and y != frame.y(1):
                along = frame.x(bucket + 1)
                continue  # a move no eye could see at this size: the step goes on
            found[-1][1].append(f"H{num(along)}V{num(y)}")
        else:
            if previous is not None:  # a run of the other kind ends here
                found[-1][1].append(f"H{num(along)}")
            found.append((unranked, [f"M{num(frame.x(bucket))} {num(y)}"]))
        y_now, along = y, frame.x(bucket + 1)
        previous = rank
    return [(unranked, "".join(parts)) for unranked, parts in found]


def series_lines(frame: _Frame) -> list[str]:
    parts = []
    for n, line in enumerate(frame.chart.series):
        colour = PALETTE[n % len(PALETTE)]
        for unranked, d in step_paths(frame, line.ranks):
            parts.append(
                element(
                    "path",
                    tooltip(f"{line.label}{': not ranked' if unranked else ''}"),
                    d=d,
                    class_="unranked" if unranked else "line",
                    stroke=colour,
                    data_series=n,
                )
            )
    return parts


def markers(frame: _Frame, *, zone: ZoneInfo) -> list[str]:
    """▲ at #1 for a gain, ▼ at the rank after it for a loss, each with its words."""
    parts = []
    for marker in frame.chart.markers:
        change = marker.change
        if change.kind not in (ChangeKind.GAINED, ChangeKind.LOST):
            continue
        x = frame.x_at(marker.at)
        gained = change.kind == ChangeKind.GAINED
        y = frame.y(1) if gained else frame.y(change.rank_after or NOT_RANKED)
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
    moment = local_time(change.changed_at, zone)
    return f"{kind_of(change.kind).verb} in {line.label} ({after}), {moment}"


def series_legend(series: list[Series], *, y: float) -> list[str]:
    """A line of each series' colour and its name."""
    parts, x = [], LEFT
    for n, line in enumerate(series):
        label = line.label if len(line.label) <= 34 else line.label[:33] + "…"
        colour = PALETTE[n % len(PALETTE)]
        d = f"M{num(x)} {num(y - 4)}h16"
        parts.append(element("path", d=d, class_="line", stroke=colour))
        parts.append(text(x + 20, y, label))
        x += 28 + 6.2 * len(label)
        if x > WIDTH - 160:
            x, y = LEFT, y + 14
    return parts


def shading_legend(zone: ZoneInfo, *, x: float, y: float) -> list[str]:
    """What the shades and the dashed line mean, and the time zone."""
    parts = []
    for css, label in _LEGEND:
        parts.append(element("rect", x=num(x), y=num(y - 9), width=12, height=10, class_=css))
        parts.append(text(x + 16, y, label))
        x += 30 + 6.2 * len(label)
    d = f"M{num(x)} {num(y - 4)}h16"
    parts.append(element("path", d=d, class_="unranked", stroke=PALETTE[0]))
    parts.append(text(x + 20, y, "not ranked"))
    parts.append(text(WIDTH - RIGHT, y, f"times in {zone_name(zone)}", text_anchor="end"))
    return parts


def legend_svg(zone: ZoneInfo, *, styled: bool = True) -> str:
    """The shading's key on its own, for a page of charts that leave it out."""
    return svg_document(
        "".join(shading_legend(zone, x=LEFT, y=14)),
        width=WIDTH,
        height=20,
        title="Key to the charts",
        desc="Gold: #1. Light grey: not observed. Grey: Keepa had no data. Blue: pruned"
        " history, only whether #1 was held. Dashed: listed but not ranked.",
        styled=styled,
        key="legend",
    )


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


SPARK_POINTS = 60  # buckets a sparkline draws: the best rank of each group of the chart's


def sparkline_svg(chart: ProductChart, *, title: str, styled: bool = True, key: str = "") -> str:
    """A small line of the best rank in any drawn series, #1 periods shaded."""
    best, at_one = chart.best_ranks(), [chart.at_one(i) for i in range(chart.grid.count)]
    size = -(-len(best) // SPARK_POINTS)  # buckets per point
    groups = [range(start, min(start + size, len(best))) for start in range(0, len(best), size)]
    ranks = [min((best[i] for i in g if best[i]), default=None) for g in groups]
    held = [any(at_one[i] for i in g) for g in groups]
    scale = RankScale(max((r for r in ranks if r), default=10), top=3, bottom=SPARK_HEIGHT - 3)
    frame = _Frame(chart, left=0, right=SPARK_WIDTH, scale=scale, lane=SPARK_HEIGHT - 2)
    frame.count = len(groups)
    parts = [_band(frame, a, b, 0, SPARK_HEIGHT, "at1") for a, b in runs(held)]
    for unranked, d in step_paths(frame, ranks):
        css = "unranked" if unranked else "line"
        parts.append(element("path", d=d, class_=css, stroke=PALETTE[1]))
    known = [r for r in ranks if r]
    desc = f"best rank #{min(known):,}, last #{known[-1]:,}" if known else "no rank known"
    return svg_document(
        "".join(parts),
        width=SPARK_WIDTH,
        height=SPARK_HEIGHT,
        title=title,
        desc=desc,
        styled=styled,
        key=f"s-{key or chart.asin}",
    )
