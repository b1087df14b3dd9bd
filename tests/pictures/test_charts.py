"""The rank chart, read back from its SVG: the points, the log scale with #1 at the top, the
shaded #1 periods, the markers, and what is drawn where nothing or only spans are known."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import Change
from bestseller_cli.pictures.charts import product_svg, sparkline_svg
from bestseller_cli.shapes.rank_history import (
    BucketFacts,
    CategoryPoints,
    Coverage,
    Grid,
    ProductHistory,
    chart_of,
)

NS = "{http://www.w3.org/2000/svg}"
SINCE = datetime(2026, 11, 22, tzinfo=UTC)
GRID = Grid(since=SINCE, until=SINCE + timedelta(hours=24), count=24)  # a bucket per hour
UTC_ZONE = ZoneInfo("UTC")
HOURLY = timedelta(hours=2)


def hours(*buckets: int, holding: bool = False, main_rank: int | None = 500) -> list[BucketFacts]:
    return [
        BucketFacts(bucket=b, checks=1, available=1, holding=holding, main_rank=main_rank)
        for b in buckets
    ]


def category(moves: dict[int, int | None], *, start: int | None = None) -> CategoryPoints:
    """A category with a point at each bucket of `moves` (bucket -> rank)."""
    return CategoryPoints(
        category_id=7,
        name="Garlic Presses",
        start_rank=start,
        started=start is not None,
        buckets=list(moves),
        best=list(moves.values()),
        last=list(moves.values()),
    )


def history(facts: list[BucketFacts], *categories: CategoryPoints) -> ProductHistory:
    return ProductHistory(
        asin="B0CHART001",
        marketplace="com",
        main_category_id=1,
        main_category_name="Kitchen",
        facts=facts,
        categories=list(categories),
    )


def change(
    kind: ChangeKind, hour: float, *, before: int, after: int | None, seen: float | None = None
) -> Change:
    """A change at `hour` per Keepa's series, seen by a check at `seen` (at once if None)."""
    return Change(
        asin="B0CHART001",
        marketplace="com",
        category_id=7,
        category_name="Garlic Presses",
        kind=kind,
        rank_before=before,
        rank_after=after,
        main_rank=500,
        title="Acme Press",
        detected_at=SINCE + timedelta(hours=hour if seen is None else seen),
        changed_at=SINCE + timedelta(hours=hour),
    )


def draw(product: ProductHistory, changes: list[Change] = ()) -> ET.Element:
    chart = chart_of(product, grid=GRID, max_gap=HOURLY, changes=list(changes))
    return ET.fromstring(product_svg(chart, title="Acme Press", zone=UTC_ZONE))


def corners(d: str) -> list[tuple[float, float]]:
    """The corners a path of steps (`M x y`, then `H x` and `V y`) goes through."""
    found: list[tuple[float, float]] = []
    for command, value in re.findall(r"([MHV])([^MHV]+)", d):
        numbers = [float(n) for n in value.split()]
        x, y = found[-1] if found else (0.0, 0.0)
        found.append(
            tuple(numbers)
            if command == "M"
            else (numbers[0], y)
            if command == "H"
            else (x, numbers[0])
        )
    return found


def lines(svg: ET.Element, css: str = "line", series: str = "1") -> list[list[tuple[float, float]]]:
    return [
        corners(p.get("d"))
        for p in svg.iter(f"{NS}path")
        if p.get("class") == css and p.get("data-series") == series
    ]


def rects(svg: ET.Element, css: str) -> list[tuple[float, float]]:
    return [
        (float(r.get("x")), float(r.get("x")) + float(r.get("width")))
        for r in svg.iter(f"{NS}rect")
        if r.get("class") == css
        and r.get("y") != r.get("height")  # not the legend swatch
        and float(r.get("height")) > 20
    ]


def x_of(bucket: int) -> float:
    """Where a bucket starts: the plot spans x 58..706 for 24 buckets."""
    return 58 + (706 - 58) * bucket / 24


def test_each_rank_is_a_step_at_its_hour_and_ranks_lie_on_a_log_scale_with_one_on_top() -> None:
    svg = draw(history(hours(*range(24)), category({0: 100, 8: 10, 16: 1})))
    (line,) = lines(svg)
    ys = sorted({y for _, y in line})
    one, ten, hundred = ys
    # 1, 10, 100: equal steps on a log scale (coordinates have one decimal)
    assert hundred - ten == pytest.approx(ten - one, abs=0.2)
    assert one == min(y for _, y in line)  # #1 at the top
    assert line[0] == (x_of(0), hundred) and line[1] == (x_of(8), hundred)
    assert (x_of(8), ten) in line and (x_of(16), one) in line and line[-1] == (x_of(24), one)


def test_the_hours_at_one_are_shaded_and_no_others() -> None:
    svg = draw(history(hours(*range(24)), category({0: 3, 5: 1, 9: 2, 15: 1}, start=3)))
    assert rects(svg, "at1") == [(x_of(5), x_of(9)), (x_of(15), x_of(24))]


def test_a_gain_is_marked_at_one_and_a_loss_at_the_rank_it_fell_to() -> None:
    changes = [
        change(ChangeKind.GAINED, 5.5, before=2, after=1),
        change(ChangeKind.LOST, 9.5, before=1, after=4),
    ]
    svg = draw(history(hours(*range(24)), category({5: 1, 9: 4}, start=2)), changes)
    (line,) = lines(svg)
    gained, lost = [p for p in svg.iter(f"{NS}polygon") if p.get("data-series") == "1"]
    tip = next(tuple(map(float, pair.split(","))) for pair in gained.get("points").split())
    assert gained.get("class") == "gained" and lost.get("class") == "lost"
    assert tip[0] == round((x_of(5) + x_of(6)) / 2, 1)  # 05:30, midway through the hour
    top = min(y for _, y in line)
    assert tip[1] == top - 9  # the tip points at #1
    down = next(tuple(map(float, pair.split(","))) for pair in lost.get("points").split())
    assert down[1] == max(y for _, y in line) + 9  # #4, the lowest rank of the line
    assert "lost #1 in Garlic Presses (#4), 2026-11-22 09:30 UTC" in lost.find(f"{NS}title").text


def test_a_change_found_in_keepas_series_later_is_marked_when_it_happened() -> None:
    later = change(ChangeKind.GAINED, 5.5, before=2, after=1, seen=8)
    svg = draw(history(hours(*range(24)), category({5: 1}, start=2)), [later])
    (gained,) = [p for p in svg.iter(f"{NS}polygon") if p.get("data-series") == "1"]
    tip = next(tuple(map(float, pair.split(","))) for pair in gained.get("points").split())
    assert tip[0] == round((x_of(5) + x_of(6)) / 2, 1)  # 05:30, not 08:00 when it was seen
    assert (
        "gained #1 in Garlic Presses (#1), 2026-11-22 05:30 UTC" in gained.find(f"{NS}title").text
    )


def test_hours_without_a_check_are_grey_and_the_line_breaks_there() -> None:
    checked = [*range(0, 6), *range(12, 24)]  # no pass from 06:00 to 12:00
    svg = draw(history(hours(*checked), category({0: 5}, start=5)))
    # Passes up to two hours apart (max_gap) leave no gap: 05:00 observes the hour after.
    assert rects(svg, "unobserved") == [(x_of(7), x_of(12))]
    assert [(run[0][0], run[-1][0]) for run in lines(svg)] == [
        (x_of(0), x_of(7)),
        (x_of(12), x_of(24)),
    ]


def test_not_ranked_is_a_dashed_line_under_the_ranks_not_a_gap() -> None:
    svg = draw(history(hours(*range(24)), category({0: 5, 10: None, 14: 6})))
    (dashed,) = lines(svg, "unranked")
    assert (dashed[0][0], dashed[-1][0]) == (x_of(10), x_of(14))
    lowest_rank = max(y for run in lines(svg) for _, y in run)
    assert dashed[0][1] > lowest_rank
    assert rects(svg, "unobserved") == []


def test_pruned_hours_show_only_whether_one_was_held_and_no_rank_line() -> None:
    spans = [BucketFacts(bucket=b, checks=1, summarized=1, holding=b < 6) for b in range(12)]
    product = history(spans + hours(*range(12, 24)), category({0: 1, 12: 3}, start=1))
    chart = chart_of(product, grid=GRID, max_gap=HOURLY, changes=[])
    assert chart.coverage[:12] == [Coverage.SUMMARIZED] * 12
    svg = ET.fromstring(product_svg(chart, title="Acme Press", zone=UTC_ZONE))
    assert rects(svg, "summarized") == [(x_of(0), x_of(12))]
    assert rects(svg, "held") == [(x_of(0), x_of(6))]  # the spans' word, not a rank
    assert [run[0][0] for run in lines(svg)] == [x_of(12)]  # no rank invented before
    assert lines(svg, series="0")[0][0][0] == x_of(12)  # nor a main rank


def test_the_main_rank_is_its_own_series_and_no_rank_at_all_draws_no_main_line() -> None:
    svg = draw(history(hours(*range(24), main_rank=412)))
    assert [len(run) for run in lines(svg, series="0")] == [2]
    assert "Kitchen (main): best #412" in svg.find(f"{NS}desc").text
    bare = draw(history(hours(*range(24), main_rank=None)))
    assert lines(bare, "line", "0") == []


def test_the_chart_has_a_title_and_says_in_words_when_it_held_one() -> None:
    svg = draw(history(hours(*range(24)), category({0: 2, 5: 1, 9: 2})))
    assert svg.get("role") == "img"
    assert svg.find(f"{NS}title").text == "Acme Press"
    desc = svg.find(f"{NS}desc").text
    assert (
        "Garlic Presses: best #1, last #2; #1 from 2026-11-22 05:00 UTC to 2026-11-22 09:00" in desc
    )


def test_times_are_labelled_in_the_zone_asked_for() -> None:
    chart = chart_of(history(hours(*range(24))), grid=GRID, max_gap=HOURLY, changes=[])
    labels = {
        zone: [
            t.text
            for t in ET.fromstring(product_svg(chart, title="t", zone=ZoneInfo(zone))).iter(
                f"{NS}text"
            )
        ]
        for zone in ("UTC", "Asia/Tokyo")
    }
    assert "Nov 22" in labels["UTC"] and "times in UTC" in labels["UTC"]
    assert "Nov 23" in labels["Asia/Tokyo"] and "times in Asia/Tokyo" in labels["Asia/Tokyo"]


def test_the_sparkline_follows_the_best_rank_and_shades_one() -> None:
    product = history(hours(*range(24), main_rank=300), category({0: 4, 12: 1}))
    chart = chart_of(product, grid=GRID, max_gap=HOURLY, changes=[])
    svg = ET.fromstring(sparkline_svg(chart, title="Acme"))
    (line,) = [p for p in svg.iter(f"{NS}path")]
    ys = [y for _, y in corners(line.get("d"))]
    assert ys[0] > ys[-1]  # from #4 up to #1
    assert [r.get("x") for r in svg.iter(f"{NS}rect")] == ["60"]  # the second half, at #1


def test_names_with_markup_characters_are_text_not_markup() -> None:
    pots = CategoryPoints(
        category_id=7, name="Pots & Pans <Big>", start_rank=None, started=False,
        buckets=[0], best=[1], last=[1],
    )  # fmt: skip
    changes = [change(ChangeKind.GAINED, 0.5, before=2, after=1)]
    svg = draw(history(hours(*range(24)), pots), changes)  # parses: well-formed XML
    assert "Pots & Pans <Big>" in [t.text for t in svg.iter(f"{NS}text")]
    titles = [t.text for t in svg.iter(f"{NS}title")]
    assert "Pots & Pans <Big>" in titles
    assert any(title.startswith("gained #1 in Pots & Pans <Big>") for title in titles)
