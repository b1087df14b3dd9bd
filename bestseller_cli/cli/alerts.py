"""`bestseller alerts …`: the alerts in the outbox, and delivering the undelivered ones now."""

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bestseller_cli.alerts import actions
from bestseller_cli.cli.check import AlertPrinter
from bestseller_cli.cli.common import console, err_console, examples, print_json, settings
from bestseller_cli.escape import terminal_text
from bestseller_cli.kinds import kind_of

alerts_app = typer.Typer(
    help="Alerts in the outbox: list them, retry the undelivered.", no_args_is_help=True
)


@alerts_app.command(
    "list",
    epilog=examples("bestseller alerts list --undelivered", "bestseller alerts list --json"),
)
def alerts_list(
    undelivered: Annotated[
        bool,
        typer.Option(
            "--undelivered", help="Only alerts due and not delivered (refused, pending, sending)."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List alerts, newest first, with their status and Slack's last error."""
    rows = actions.list_alerts(
        settings(), undelivered_only=undelivered, limit=limit, now=datetime.now(UTC)
    )
    if as_json:
        print_json([dataclasses.asdict(row) for row in rows])
        return
    if not rows:
        console.print("No undelivered alerts." if undelivered else "No alerts yet.")
        return
    table = Table(title="Undelivered alerts" if undelivered else "Alerts")
    for column in ("id", "status", "channel", "change", "detected", "tries", "error / reason"):
        table.add_column(column)
    for row in rows:
        change = f"{kind_of(row.kind).verb} {row.asin} ({row.marketplace}) in"
        table.add_row(
            str(row.id),
            row.status,
            terminal_text(row.channel or "default"),
            terminal_text(f"{change} {row.category_name or row.category_id}"),
            row.detected_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            str(row.attempts),
            terminal_text(" · ".join(text for text in (row.reason, row.error) if text)),
        )
    console.print(table, highlight=False)


@alerts_app.command("retry", epilog=examples("bestseller alerts retry"))
def alerts_retry() -> None:
    """Deliver undelivered alerts now (those Slack refused included), e.g. after fixing the
    token or inviting the bot; a pass does the same at its end."""
    report = actions.retry(settings(), show=AlertPrinter(err=False), now=datetime.now(UTC))
    if report is None:
        console.print("A check is running (the run lock is held); it delivers them.")
        return
    console.print(
        f"{report.sent + report.recovered} sent, {report.printed} printed,"
        f" {report.suppressed} folded into a flapping message, {report.refused} refused,"
        f" {report.pending} still undelivered, {report.expired} expired",
        highlight=False,
    )
    for reason in report.refusals:
        err_console.print(f"[red]Slack refused alerts:[/red] {reason}", highlight=False)
    if report.pending or report.expired:
        raise typer.Exit(1)
