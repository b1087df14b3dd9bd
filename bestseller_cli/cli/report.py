"""`bestseller report`: badge changes, holders, share, cost, alerts and errors."""

import sys
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bestseller_cli.alerts.channels import slack_channel
from bestseller_cli.cli.common import (
    client_name,
    console,
    err_console,
    print_json,
    settings,
    single_format,
    write_csv,
    write_html,
)
from bestseller_cli.cli.report_view import rich_report
from bestseller_cli.cli.tables import WideOption
from bestseller_cli.config import Settings
from bestseller_cli.errors import ConfigError
from bestseller_cli.report.build import build_report, parse_since
from bestseller_cli.report.formats import (
    CATEGORY_CSV_FIELDS,
    CSV_FIELDS,
    category_csv_records,
    csv_records,
    markdown_report,
    report_digest,
)
from bestseller_cli.report.html import html_report
from bestseller_cli.report.pictures import ReportPictures, attach_overview, build_pictures
from bestseller_cli.rules.notify_config import check_timezone
from bestseller_cli.shapes.report_models import Report
from bestseller_cli.slack.channel import SlackChannel
from bestseller_cli.store import client_store, db


def report(
    since: Annotated[
        str, typer.Option(help="Period start: 24h, 7d, 2w, or a date 2026-05-01 (UTC).")
    ] = "24h",
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Only this client's ASINs.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (shape: shapes/report_models.py).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print one CSV row per ASIN.")] = False,
    as_category_csv: Annotated[
        bool,
        typer.Option(
            "--categories-csv",
            help="Print one CSV row per stretch at #1 of a watched category in the period.",
        ),
    ] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    html: Annotated[
        str | None,
        typer.Option(
            "--html",
            metavar="PATH",
            help="Write one self-contained HTML file with rank charts (- for stdout).",
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="Times in this IANA zone (--html), e.g. Europe/Berlin.")
    ] = "UTC",
    to_slack: Annotated[bool, typer.Option("--to-slack", help="Also post it to Slack.")] = False,
    channel: Annotated[
        str | None,
        typer.Option(help="Channel for --to-slack; default: the client's, the global one."),
    ] = None,
    wide: WideOption = False,
) -> None:
    """Report badge changes, holders, badge share and streaks, Keepa cost, alerts and errors."""
    single_format(
        json=as_json,
        csv=as_csv,
        categories_csv=as_category_csv,
        markdown=as_markdown,
        html=html is not None,
    )
    zone = ZoneInfo(check_timezone(timezone.strip()))
    config = settings()
    until = datetime.now(UTC)
    start = parse_since(since, now=until)
    sender = slack_channel(config) if to_slack else None
    window = {"since": start, "until": until, "client": client}
    pictures = None
    with db.open_database(config) as conn:
        if html is not None or (sender is not None and config.slack_charts):
            pictures = build_pictures(
                conn,
                **window,
                token_cost_usd=config.keepa_token_cost_usd,
                max_gap=config.unobserved_after,
            )
            result = pictures.report
        else:
            result = build_report(conn, **window, token_cost_usd=config.keepa_token_cost_usd)
        target = channel or client_store.report_channel(conn, client=client)
    target = target or config.slack_channel_id
    if sender is not None and not target:
        raise ConfigError(
            "--to-slack needs a channel: --channel C, `bestseller settings set"
            " slack_channel_id C` or SLACK_CHANNEL_ID"
        )
    if html is not None and pictures is not None:
        write_html(html_report(pictures, zone=zone), html)
    else:
        shown = {"as_json": as_json, "as_csv": as_csv, "as_markdown": as_markdown}
        show(result, **shown, as_category_csv=as_category_csv, wide=wide)
    if sender is not None and target:
        post_to_slack(config, sender, result=result, pictures=pictures, channel=target)


def show(
    result: Report,
    *,
    as_json: bool,
    as_csv: bool,
    as_markdown: bool,
    wide: bool,
    as_category_csv: bool = False,
) -> None:
    """The report on stdout in the one format asked for (a table on a terminal)."""
    if as_json:
        print_json(result.model_dump())
    elif as_csv:
        write_csv(csv_records(result), fieldnames=CSV_FIELDS)
    elif as_category_csv:
        write_csv(category_csv_records(result), fieldnames=CATEGORY_CSV_FIELDS)
    elif as_markdown:
        sys.stdout.write(markdown_report(result) + "\n")
    else:
        console.print(rich_report(result, width=None if wide else console.width), crop=False)


def post_to_slack(
    config: Settings,
    sender: SlackChannel,
    *,
    result: Report,
    pictures: ReportPictures | None,
    channel: str,
) -> None:
    """The digest in `channel`, and the overview chart in its thread with SLACK_CHARTS."""
    ts = sender.post_report(channel=channel, digest=report_digest(result))
    err_console.print(f"[green]posted[/green] the report to {channel}", highlight=False)
    if pictures is not None and config.slack_charts:
        problem = attach_overview(config, sender, channel=channel, ts=ts, pictures=pictures)
        if problem:
            err_console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
