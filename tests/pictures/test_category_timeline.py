"""Who held #1 in a watched category: its holder stretches, cut to the period, drawn in the
"Who held #1" style, one lane per holder, untracked holders labelled as untracked."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bestseller_cli.pictures.category_timeline import category_timeline, category_timelines
from bestseller_cli.pictures.holder_timeline import Tenure, timeline_svg
from bestseller_cli.shapes.report_models import CategoryHolders, CategoryStretch

NS = "{http://www.w3.org/2000/svg}"
SINCE = datetime(2026, 11, 22, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)


def at(hours: float) -> datetime:
    return SINCE + timedelta(hours=hours)


def stretch(asin: str, role: str, start: float, end: float | None, title: str | None = None):
    return CategoryStretch(
        asin=asin,
        title=title,
        role=role,
        held_from=at(start),
        held_until=None if end is None else at(end),
    )


def category(*stretches: CategoryStretch) -> CategoryHolders:
    return CategoryHolders(
        marketplace="com",
        category_id=3167641,
        name="Kitchen Scales",
        client="acme",
        list_updated_at=at(23),
        current=next((s for s in stretches if s.held_until is None), None),
        stretches=list(stretches),
    )


SCALES = category(
    stretch("B0OLDTIME1", "untracked", -30, 4),
    stretch("B0OURS0001", "own", 4, 10, "Our scale"),
    stretch("B0NEWCOME1", "untracked", 10, 16, "Newcomer scale"),
    stretch("B0OURS0001", "own", 16, None, "Our scale"),
)


def test_each_holder_is_one_lane_with_a_bar_per_stretch_cut_to_the_period() -> None:
    timeline = category_timeline(SCALES, since=SINCE, until=UNTIL)
    assert timeline.name == "Kitchen Scales"
    lanes = {lane.asin: lane for lane in timeline.lanes}
    assert list(lanes) == ["B0OLDTIME1", "B0OURS0001", "B0NEWCOME1"]
    assert lanes["B0OLDTIME1"].tenures == [Tenure(at(0), at(4), since_before=True)]
    assert lanes["B0OURS0001"].tenures == [
        Tenure(at(4), at(10)),
        Tenure(at(16), UNTIL, ongoing=True),
    ]
    assert (lanes["B0NEWCOME1"].note, lanes["B0OURS0001"].note) == ("untracked", None)


def test_the_svg_labels_untracked_holders_and_says_each_stretch_in_words() -> None:
    timeline = category_timeline(SCALES, since=SINCE, until=UNTIL)
    svg = timeline_svg(timeline, zone=ZoneInfo("UTC"), key="c-com-3167641")
    root = ET.fromstring(svg)
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "Who held #1 in Kitchen Scales (amazon.com)" in labels
    assert {"B0NEWCOME1 untracked", "B0OLDTIME1 untracked"} <= set(labels)
    assert "B0OURS0001 Our scale" in labels
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "tenure"]
    assert [bar.get("data-asin") for bar in bars] == [
        "B0OLDTIME1",
        "B0OURS0001",
        "B0OURS0001",
        "B0NEWCOME1",
    ]
    desc = root.find(f"{NS}desc")
    assert desc is not None and "B0NEWCOME1 (untracked) held #1 from 2026-11-22 10:00" in (
        desc.text or ""
    )


def test_a_category_without_a_stretch_in_the_period_is_not_drawn() -> None:
    before = category(stretch("B0OLDTIME1", "untracked", -30, -2))
    (drawn,) = category_timelines([before, SCALES], since=SINCE, until=UNTIL)
    assert len(drawn.lanes) == 3  # SCALES
