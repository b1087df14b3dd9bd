"""The report with its pictures: the typed `Report` (the same one `--json` prints) and, read
in the same snapshot, each product's rank chart and who held #1 where products took it from
each other. No printing; `html.py` lays it out."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from bestseller_cli.report.build import report_sections
from bestseller_cli.rules.holder_timeline import CategoryTimeline, holder_timelines
from bestseller_cli.rules.rank_history import ProductChart, chart_of, grid_for
from bestseller_cli.rules.report_models import Report
from bestseller_cli.store import chart_queries, report_queries


@dataclass(frozen=True)
class ReportPictures:
    report: Report
    charts: dict[tuple[str, str], ProductChart]  # by (asin, marketplace)
    timelines: list[CategoryTimeline]


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
    return ReportPictures(report=report, charts=charts, timelines=timelines)
