"""`bestseller check` and `bestseller doctor`: the pass and the setup check, as printed."""

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from bestseller_cli import healthcheck, monitor
from bestseller_cli.cli_common import client_name, console, err_console, print_json, settings
from bestseller_cli.doctor import run_doctor
from bestseller_cli.errors import ConfigError
from bestseller_cli.models import parse_asin
from bestseller_cli.slack import SlackMessage


def check(
    asin: Annotated[
        list[str] | None, typer.Option("--asin", help="Only these ASINs (repeatable).")
    ] = None,
    client: Annotated[
        str | None, typer.Option(callback=client_name, help="Only this client's ASINs.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Fetch and diff, print what would alert; write and send nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run one monitoring pass: fetch ranks, detect badge changes, send alerts."""
    config = settings()
    with healthcheck.monitored(None if dry_run else config.healthcheck_url):
        config.require_keepa_key()
        try:
            only = [parse_asin(text) for text in asin] if asin else None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        with check_progress(enabled=not as_json) as on_progress:
            summary = monitor.run_check(
                config,
                asins=only,
                client=client,
                dry_run=dry_run,
                # Machine output stays pure: with --json, printed alerts go to stderr.
                show=partial(show_alert, to=err_console if as_json else console),
                on_progress=on_progress,
            )
        if as_json:
            print_json(summary_record(summary))
        else:
            print_summary(summary, stale_hours=config.keepa_stale_hours)
        raise typer.Exit(summary.exit_code)


def doctor() -> None:
    """Check settings, database, run lock, Keepa key and budget, Slack token and channels."""
    findings = run_doctor(settings())
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    table = Table(title="bestseller doctor")
    for column in ("", "part", "detail"):
        table.add_column(column)
    for finding in findings:
        colour = colours[finding.status]
        table.add_row(
            f"[{colour}]{finding.status}[/{colour}]", escape(finding.part), escape(finding.detail)
        )
    console.print(table)
    if any(finding.status == "fail" for finding in findings):
        raise typer.Exit(1)


@contextmanager
def check_progress(*, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal; nothing when piped or in cron."""
    if not (enabled and console.is_terminal):
        yield lambda done, total: None
        return
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Checking ASINs", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def show_alert(message: SlackMessage, *, to: Console) -> None:
    """Alerts without a Slack token are printed here instead of being dropped."""
    to.print(f"ALERT {html.unescape(message.text)}", highlight=False, markup=False)
    for block in message.blocks:
        for element in block.get("elements", []) if block.get("type") == "context" else []:
            for line in element.get("text", "").splitlines():
                to.print(f"      {html.unescape(line)}", highlight=False, markup=False)


def summary_record(summary: monitor.CheckSummary) -> dict[str, Any]:
    record = {
        name: getattr(summary, name)
        for name in (
            "run_id",
            "resumed",
            "lock_held_elsewhere",
            "dry_run",
            "asins_to_check",
            "checked",
            "unavailable",
            "baselines",
            "gained",
            "lost",
            "alerts_queued",
            "alerts_sent",
            "alerts_printed",
            "alerts_failed",
            "alerts_recovered",
            "alerts_folded_into_flapping",
            "alerts_undelivered",
            "alerts_updated",
            "tokens_needed",
            "tokens_available",
            "tokens_used",
            "categories_named",
            "stale",
            "variation_parents",
            "invalid",
            "duration_seconds",
            "detection_latency_ms_max",
            "stopped_because",
            "unchecked",
            "warnings",
            "conditions",
        )
    }
    record["changes"] = [change.model_dump(mode="json") for change in summary.changes]
    record["exit_code"] = summary.exit_code
    return record


def print_summary(summary: monitor.CheckSummary, *, stale_hours: float) -> None:
    for warning in summary.warnings + summary.variation_parents + summary.invalid:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if summary.lock_held_elsewhere:
        console.print("Another check is running (the run lock is held); nothing to do.")
        return
    for change in summary.changes:
        arrow = "[green]gained[/green]" if change.kind == "gained" else "[red]lost[/red]"
        console.print(
            f"{arrow} #1 in {change.category_name or change.category_id}:"
            f" {change.asin} ({change.marketplace}) {change.title or ''}",
            highlight=False,
        )
    available = "?" if summary.tokens_available is None else summary.tokens_available
    latency = summary.detection_latency_ms_max
    latency = None if latency is None else round(latency, 1)
    table = Table(title="Dry run (nothing written or sent)" if summary.dry_run else "Check")
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("ASINs checked", f"{summary.checked} of {summary.asins_to_check}"),
        ("unavailable on Keepa", summary.unavailable),
        (f"Keepa data older than {stale_hours:g} h", summary.stale),
        ("first seen (baseline)", summary.baselines),
        ("badges gained", summary.gained),
        ("badges lost", summary.lost),
        ("alerts sent", summary.alerts_sent + summary.alerts_recovered),
        ("alerts printed (no Slack token)", summary.alerts_printed),
        ("alerts folded into a flapping message", summary.alerts_folded_into_flapping),
        ("messages updated with who took or lost #1", summary.alerts_updated),
        ("alerts failed", summary.alerts_failed),
        ("alerts pending", summary.alerts_undelivered),
        ("Keepa tokens used", summary.tokens_used),
        ("categories named by Keepa's /category", summary.categories_named),
        ("Keepa tokens needed / available at start", f"{summary.tokens_needed} / {available}"),
        ("detection to queue (ms, max)", latency),
        ("duration (s)", summary.duration_seconds),
    ]
    if summary.holders_looked_up is not None:
        rows.insert(
            -2, ("categories looked up on Keepa's best seller lists", summary.holders_looked_up)
        )
    for label, value in rows:
        table.add_row(label, "-" if value is None else str(value))
    table.show_header = False
    console.print(table)
    for condition in summary.conditions:
        err_console.print(f"[red]condition open:[/red] {condition}", highlight=False)
    if summary.stopped_because:
        err_console.print(f"[red]stopped early:[/red] {summary.stopped_because}", highlight=False)
    if summary.unchecked:
        shown = ", ".join(summary.unchecked[:20])
        more = f" and {len(summary.unchecked) - 20} more" if len(summary.unchecked) > 20 else ""
        err_console.print(
            f"[red]not checked this run:[/red] {shown}{more} (the next run picks them up)",
            highlight=False,
        )
