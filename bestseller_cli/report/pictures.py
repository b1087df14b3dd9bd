"""The report with its pictures: the typed `Report` (the same one `--json` prints) and, read
in the same snapshot, each product's rank chart, who held #1 where products took it from
each other, and who held #1 in each watched category. No printing; `html.py` lays it out."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.config import Settings
from bestseller_cli.errors import DeliveryError
from bestseller_cli.models import ErrorEvent, Picture
from bestseller_cli.pictures.category_timeline import category_timelines
from bestseller_cli.pictures.charts import describe, product_svg
from bestseller_cli.pictures.holder_timeline import (
    CategoryTimeline,
    describe_timeline,
    holder_timelines,
    timeline_svg,
    timeline_title,
)
from bestseller_cli.report.build import report_sections
from bestseller_cli.shapes.rank_history import ProductChart, chart_of, grid_for
from bestseller_cli.shapes.report_models import AsinSummary, Report
from bestseller_cli.slack.charts import png_of
from bestseller_cli.store import chart_queries, db, log_store, report_queries


@dataclass(frozen=True)
class ReportPictures:
    report: Report
    charts: dict[tuple[str, str], ProductChart]  # by (asin, marketplace)
    timelines: list[CategoryTimeline]
    # who held #1 in each watched category with a stretch in the period
    category_timelines: list[CategoryTimeline] = field(default_factory=list)


def build_pictures(
    conn: psycopg.Connection,
    *,
    since: datetime,
    until: datetime,
    client: str | None,
    token_cost_usd: float,
    max_gap: timedelta,
) -> ReportPictures:
    """The report of the period and a chart of every product in it, from one snapshot.
    `max_gap`: checks further apart than this leave the time between them unobserved."""
    with conn.transaction():
        report_queries.read_one_snapshot(conn)
        report = report_sections(
            conn, since=since, until=until, client=client, token_cost_usd=token_cost_usd
        )
        grid = grid_for(since, until)
        products = [(row.asin, row.marketplace) for row in report.asins]
        histories = chart_queries.product_histories(conn, products=products, grid=grid)
    events = report.changes.events
    charts = {
        (history.asin, history.marketplace): chart_of(
            history, grid=grid, max_gap=max_gap, changes=events
        )
        for history in histories
    }
    timelines = holder_timelines(events, report.holders, since=since, until=until)
    watched = category_timelines(report.categories, since=since, until=until)
    return ReportPictures(
        report=report, charts=charts, timelines=timelines, category_timelines=watched
    )


def by_badge_share(asins: list[AsinSummary]) -> list[AsinSummary]:
    """The most time at #1 first; products never checked in the period last."""
    return sorted(asins, key=lambda a: (a.badge_share is None, -(a.badge_share or 0), a.asin))


def overview(pictures: ReportPictures, *, zone: ZoneInfo) -> Picture | None:
    """The picture a report posted to Slack carries: who held #1 where tracked products took
    it from each other, else the chart of the product with the largest badge share."""
    if pictures.timelines:
        timeline = pictures.timelines[0]
        svg = timeline_svg(timeline, zone=zone)
        title, alt = timeline_title(timeline), describe_timeline(timeline, zone=zone)
        return Picture(png=png_of(svg), title=title, alt=alt)
    for row in by_badge_share(pictures.report.asins):
        chart = pictures.charts.get((row.asin, row.marketplace))
        if chart is not None and chart.series:
            title = f"{row.asin}: {row.title or 'rank over the period'}"[:90]
            svg = product_svg(chart, title=title, zone=zone)
            return Picture(png=png_of(svg), title=title, alt=describe(chart, zone=zone))
    return None


def attach_overview(
    settings: Settings, to: AlertChannel, *, channel: str, ts: str, pictures: ReportPictures
) -> str | None:
    """Post the overview picture in the report message's thread, once; what went wrong (also
    recorded in error_log), or None. The report itself is posted already either way."""
    try:
        picture = overview(pictures, zone=ZoneInfo("UTC"))
        if picture is not None:
            to.attach(channel=channel, ref=ts, picture=picture)
        return None
    except (DeliveryError, ValueError) as exc:
        problem = f"no chart under the report in {channel} (the report itself was posted): {exc}"
    with db.open_database(settings) as conn:
        error = ErrorEvent(source="slack", kind="chart", message=problem)
        log_store.record_errors(conn, [error], run_id=None)
        conn.commit()
    return problem
