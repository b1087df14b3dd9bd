"""Who held #1: tenures from the period's gains and losses, drawn one lane per product."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import Change
from bestseller_cli.pictures.holder_timeline import Tenure, holder_timelines, timeline_svg
from bestseller_cli.shapes.report_models import BadgeHeld, Holder

NS = "{http://www.w3.org/2000/svg}"
SINCE = datetime(2026, 11, 22, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=2)


def at(hours: int) -> datetime:
    return SINCE + timedelta(hours=hours)


def change(asin: str, kind: ChangeKind, hours: int, category: int = 7) -> Change:
    return Change(
        asin=asin,
        marketplace="com",
        category_id=category,
        category_name="Garlic Presses",
        kind=kind,
        rank_before=None,
        rank_after=None,
        main_rank=None,
        title=f"{asin} title",
        detected_at=at(hours),
    )


def holder(asin: str, category: int = 7) -> Holder:
    badge = BadgeHeld(category_id=category, category_name="Garlic Presses", since=at(30))
    return Holder(
        asin=asin,
        marketplace="com",
        title=None,
        main_rank=None,
        last_checked_at=UNTIL,
        badges=[badge],
    )


def test_a_product_that_took_one_from_another_and_lost_it_back_gets_a_lane_each() -> None:
    events = [
        change("B0OWN00001", ChangeKind.LOST, 10),
        change("B0RIVAL001", ChangeKind.GAINED, 10),
        change("B0RIVAL001", ChangeKind.LOST, 30),
        change("B0OWN00001", ChangeKind.GAINED, 30),
    ]
    (timeline,) = holder_timelines(events, [holder("B0OWN00001")], since=SINCE, until=UNTIL)
    own, rival = timeline.lanes
    assert own.tenures == [
        Tenure(start=SINCE, end=at(10), since_before=True),
        Tenure(start=at(30), end=UNTIL, ongoing=True),
    ]
    assert rival.tenures == [Tenure(start=at(10), end=at(30))]

    svg = ET.fromstring(timeline_svg(timeline, zone=ZoneInfo("UTC")))
    bars = {(r.get("data-asin"), float(r.get("x"))) for r in svg.iter(f"{NS}rect")}
    middle = 150 + (706 - 150) * 10 / 48  # 10 h into 48, on the plot from x 150 to 706
    assert ("B0RIVAL001", round(middle, 1)) in bars
    assert ("B0OWN00001", 150.0) in bars
    assert "B0RIVAL001 held #1 from 2026-11-22 10:00 UTC" in svg.find(f"{NS}desc").text


def test_a_category_only_one_product_moved_in_has_no_timeline() -> None:
    events = [change("B0OWN00001", ChangeKind.GAINED, 5), change("B0OWN00001", ChangeKind.LOST, 9)]
    assert holder_timelines(events, [], since=SINCE, until=UNTIL) == []


def test_closing_in_alerts_are_no_tenure() -> None:
    events = [
        change("B0OWN00001", ChangeKind.ENTERED_TOP_N, 5),
        change("B0RIVAL001", ChangeKind.ENTERED_TOP_N, 9),
    ]
    assert holder_timelines(events, [], since=SINCE, until=UNTIL) == []
