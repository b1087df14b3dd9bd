"""`bestseller demo`: the real pass over a made-up day, with no key and no network."""

import shutil
import tempfile
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from bestseller_cli import output
from bestseller_cli.cli.check import AlertPrinter
from bestseller_cli.cli.common import console, write_file, write_html
from bestseller_cli.demo.run import DemoPass, demo_settings, run_demo
from bestseller_cli.errors import ConfigError
from bestseller_cli.pictures.charts import product_svg
from bestseller_cli.report.html import html_report
from bestseller_cli.report.pictures import ReportPictures
from bestseller_cli.store import db


def demo(
    home: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's database here (a new folder); default: thrown away."),
    ] = None,
    html: Annotated[
        Path, typer.Option("--html", metavar="PATH", help="Where to write the HTML report.")
    ] = Path("demo-report.html"),
    charts: Annotated[
        Path | None,
        typer.Option(
            "--charts",
            metavar="DIR",
            help="Also write each product's chart here as an SVG (docs/demo-chart.svg is one).",
        ),
    ] = None,
) -> None:
    """Watch five made-up products and one category through a day of hourly passes, print
    their alerts and write the day's HTML report: the real pass, with Keepa and Slack
    answered in-process."""
    folder = home or Path(tempfile.mkdtemp(prefix="bestseller-demo-"))
    config = demo_settings(folder)
    output.configure(level=config.log_level, log_format=config.log_format)
    printer = AlertPrinter(err=False, as_text=True)  # shown to a person, piped or not
    posted = 0

    def show(done: DemoPass) -> None:
        nonlocal posted
        for event in done.slack:
            if event.chart is not None:
                console.print(
                    f"      chart in its thread: {event.message.text}"
                    f" ({len(event.chart) // 1024} KB PNG)",
                    highlight=False,
                    markup=False,
                )
                continue
            verb = "updated in place" if event.updated else "posted"
            posted += not event.updated
            console.print(
                f"\n[bold]{done.at:%Y-%m-%d %H:%M} UTC[/bold], pass {done.summary.run_id}:"
                f" {verb} in Slack channel {event.channel}",
                highlight=False,
            )
            printer(event.message)

    console.print(
        f"bestseller demo: a day of passes over 5 products and 1 watched category,"
        f" database in {folder}",
        soft_wrap=True,  # a path is never cut in two
    )
    try:
        pictures = run_demo(config, on_pass=show)
    finally:
        db.stop_embedded_server(config)
        if home is None:
            shutil.rmtree(folder, ignore_errors=True)
    write_html(html_report(pictures, zone=ZoneInfo("UTC")), str(html))
    if charts is not None:
        write_charts(pictures, charts)
    report = pictures.report
    console.print(
        f"\n{posted} alerts posted. The day's report: {html.resolve()}"
        f" ({len(report.asins)} products, {len(report.changes.events)} changes)",
        highlight=False,
        soft_wrap=True,
    )


def write_charts(pictures: ReportPictures, folder: Path) -> None:
    """Each product's chart as a standalone SVG, `ASIN.svg`, as the README shows one."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for row in pictures.report.asins:
            chart = pictures.charts.get((row.asin, row.marketplace))
            if chart is None:
                continue
            title = f"{row.asin}: {row.title or row.asin} (bestseller demo)"
            svg = product_svg(chart, title=title, zone=ZoneInfo("UTC"))
            write_file(folder / f"{row.asin}.svg", svg + "\n")
    except OSError as exc:
        raise ConfigError(f"--charts {folder}: cannot write it ({exc.strerror})") from None
    console.print(f"wrote the charts to {folder}", highlight=False, soft_wrap=True)
