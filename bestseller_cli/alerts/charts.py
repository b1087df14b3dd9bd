"""A chart under each badge alert in Slack (SLACK_CHARTS): the product's last 7 days in the
changed category, posted into the alert's thread once the alert is delivered.

A chart is extra: it is drawn and posted after every alert of the pass has gone out and been
recorded, tried once and never again, and whatever goes wrong with it (no `files:write`
scope, an upload refused or lost, a drawing error) goes to error_log and nowhere else. So a
chart is posted at most once: a crash or a lost answer leaves an alert without its chart,
never with two.
"""

from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import psycopg

from bestseller_cli.alerts.port import AlertChannel
from bestseller_cli.errors import DeliveryError
from bestseller_cli.kinds import ChangeKind
from bestseller_cli.models import Change, ErrorEvent, Picture
from bestseller_cli.pictures.charts import describe, product_svg
from bestseller_cli.redact import redact
from bestseller_cli.shapes.rank_history import chart_of, grid_for
from bestseller_cli.slack.charts import png_of
from bestseller_cli.store import chart_queries

CHART_DAYS = 7
CHARTED = (ChangeKind.GAINED, ChangeKind.LOST)
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class ChartDue:
    """An alert delivered as message `ts` in `channel`, whose chart is still to post."""

    channel: str
    ts: str
    change: Change


def alert_picture(conn: psycopg.Connection, change: Change, *, max_gap: timedelta) -> Picture:
    """The product's last CHART_DAYS days up to the change, in the changed category only."""
    until = change.detected_at.astimezone(UTC) + timedelta(minutes=30)
    grid = grid_for(until - timedelta(days=CHART_DAYS), until)
    product = (change.asin, change.marketplace)
    (history,) = chart_queries.product_histories(
        conn, products=[product], grid=grid, category_id=change.category_id
    )
    in_main = change.category_id == history.main_category_id
    chart = chart_of(history, grid=grid, max_gap=max_gap, changes=[change], main=in_main)
    category = change.category_name or f"category {change.category_id}"
    title = f"{change.asin} in {category}, last {CHART_DAYS} days"
    svg = product_svg(chart, title=title, zone=UTC_ZONE)
    return Picture(png=png_of(svg), title=title, alt=describe(chart, zone=UTC_ZONE))


def post_charts(
    conn: psycopg.Connection, channel: AlertChannel, due: list[ChartDue], *, max_gap: timedelta
) -> list[ErrorEvent]:
    """Draw and post each chart once; returns what went wrong, for error_log."""
    errors = []
    for item in due:
        change = item.change
        try:
            picture = alert_picture(conn, change, max_gap=max_gap)
            channel.attach(channel=item.channel, ref=item.ts, picture=picture)
        except (DeliveryError, ValueError, psycopg.Error) as exc:
            errors.append(
                ErrorEvent(
                    source="slack",
                    kind="chart",
                    message=redact(
                        f"no chart under the alert {item.ts} in {item.channel}"
                        f" (the alert itself was delivered): {exc}"
                    ),
                    asin=change.asin,
                    marketplace=change.marketplace,
                )
            )
    return errors
