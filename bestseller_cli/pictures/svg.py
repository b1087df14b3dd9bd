"""What every chart shares: SVG elements as text, the colours and classes, the log scale of
ranks (#1 at the top) and the time axis in the reader's time zone. Pure: text in, text out.

The charts style their elements by class (`CHART_CSS`): a chart drawn on its own carries the
stylesheet inside it (for a PNG, a file); the HTML report carries it once for all.
"""

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bestseller_cli.escape import html_text

# Text is DejaVu Sans where installed (the Docker image installs it), so a PNG has glyphs.
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
# One colour per drawn series, the main category's first; each distinct for colour-blind eyes
# (Okabe and Ito's palette) and readable in black and white by its label.
PALETTE = ["#444444", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"]
GAINED_COLOUR = "#1a7f37"
LOST_COLOUR = "#c62828"
CHART_CSS = f"""
.chart text {{ font-family: {FONT}; font-size: 11px; fill: #333333; }}
.chart .title {{ font-size: 13px; font-weight: bold; fill: #111111; }}
.chart .axis {{ stroke: #999999; stroke-width: 1; fill: none; }}
.chart .grid {{ stroke: #e4e4e4; stroke-width: 1; fill: none; }}
.chart .line {{ fill: none; stroke-width: 2; stroke-linejoin: round; }}
.chart .unranked {{ fill: none; stroke-width: 2; stroke-dasharray: 4 3; }}
.chart .at1 {{ fill: #f5c518; fill-opacity: 0.35; }}
.chart .held {{ fill: #f5c518; fill-opacity: 0.18; }}
.chart .unobserved {{ fill: #d9d9d9; fill-opacity: 0.6; }}
.chart .nodata {{ fill: #bdbdbd; fill-opacity: 0.6; }}
.chart .summarized {{ fill: #dbe6f4; fill-opacity: 0.8; }}
.chart .gained {{ fill: {GAINED_COLOUR}; stroke: #ffffff; stroke-width: 1; }}
.chart .lost {{ fill: {LOST_COLOUR}; stroke: #ffffff; stroke-width: 1; }}
.chart .tenure {{ fill-opacity: 0.85; }}
"""


def attributes(**values: object) -> str:
    """` name="value"` pairs, escaped; `class_` is `class`, `aria_label` is `aria-label`."""
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{html_text(str(value))}"'
        for name, value in values.items()
        if value is not None
    )


def element(tag: str, content: str = "", **values: object) -> str:
    if not content:
        return f"<{tag}{attributes(**values)}/>"
    return f"<{tag}{attributes(**values)}>{content}</{tag}>"


def tooltip(words: str) -> str:
    """A `<title>` inside a shape: what a browser shows on hover, and a screen reader reads."""
    return element("title", html_text(words))


def text(x: float, y: float, words: str, **values: object) -> str:
    return element("text", html_text(words), x=num(x), y=num(y), **values)


def num(value: float) -> str:
    """A coordinate with at most one decimal: charts stay small."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def points(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in pairs)


def svg_document(
    content: str, *, width: int, height: int, title: str, desc: str, styled: bool, key: str
) -> str:
    """An `<svg>` with a title and a text alternative (its accessible name and description);
    `key` makes the ids unique within a page."""
    style = element("style", CHART_CSS) if styled else ""
    head = element("title", html_text(title), id=f"t-{key}") + element(
        "desc", html_text(desc), id=f"d-{key}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg"'
        f"{attributes(class_='chart', viewBox=f'0 0 {width} {height}', width=width)}"
        f"{attributes(height=height, role='img', aria_labelledby=f't-{key} d-{key}')}>"
        f"{head}{style}{content}</svg>"
    )


class RankScale:
    """Ranks on a log scale, #1 at `top`, the worst tick at `bottom`."""

    TICKS = (1, 2, 5)

    def __init__(self, worst: int, *, top: float, bottom: float) -> None:
        self.ticks: list[int] = []
        for tick in self._nice_ticks():
            self.ticks.append(tick)
            if tick >= max(worst, 10):
                break
        self.worst = self.ticks[-1]
        self.top, self.bottom = top, bottom

    def y(self, rank: int) -> float:
        share = math.log10(max(rank, 1)) / math.log10(self.worst)
        return self.top + min(share, 1.0) * (self.bottom - self.top)

    def labelled(self) -> list[int]:
        """Ticks to label: every one when few, else 1, 10, 100, … and the last, which
        replaces the power of ten under it when the two would be too close to read."""
        if len(self.ticks) <= 5:
            return self.ticks
        powers = [t for t in self.ticks if str(t).rstrip("0") == "1"]
        last = self.ticks[-1]
        if last == powers[-1]:
            return powers
        return [*powers, last] if last >= 5 * powers[-1] else [*powers[:-1], last]

    @classmethod
    def _nice_ticks(cls) -> Iterator[int]:
        power = 1
        while True:
            for tick in cls.TICKS:
                yield tick * power
            power *= 10


# The time axis: the shortest step giving at most MAX_TIME_TICKS ticks.
MAX_TIME_TICKS = 8
_STEPS = [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + [
    timedelta(days=d) for d in (1, 2, 7, 14, 28, 56, 91)
]


def time_ticks(since: datetime, until: datetime, zone: ZoneInfo) -> list[tuple[datetime, str]]:
    """Ticks and labels in `zone`: on the hour (`09:00`, a date at midnight) or at midnight."""
    span = until - since
    step = next((s for s in _STEPS if span / s <= MAX_TIME_TICKS), _STEPS[-1])
    local = since.astimezone(zone)
    if step < timedelta(days=1):
        hours = int(step.total_seconds() // 3600)
        first = local.replace(minute=0, second=0, microsecond=0)
        first += timedelta(hours=(-first.hour) % hours)
    else:
        first = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks = []
    moment = first
    while moment <= until:
        if moment >= since:
            daily = step >= timedelta(days=1) or (moment.hour, moment.minute) == (0, 0)
            ticks.append((moment, f"{moment:%b} {moment.day}" if daily else f"{moment:%H:%M}"))
        moment += step  # wall-clock time in the zone: a day stays a day across DST
    return ticks


def zone_name(zone: ZoneInfo) -> str:
    return "UTC" if zone.key in {"UTC", "Etc/UTC"} else zone.key


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """`2026-11-23 09:02 UTC`, in the reader's zone."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone_name(zone)}"


def runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The [start, end) bucket ranges where `flags` is true."""
    found, start = [], None
    for bucket, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = bucket
        elif not flag and start is not None:
            found.append((start, bucket))
            start = None
    return found
