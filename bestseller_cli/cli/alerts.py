"""`bestseller alerts …`: the alerts in the outbox, and delivering the undelivered ones now."""

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

import typer

from bestseller_cli.alerts import actions
from bestseller_cli.cli.check import AlertPrinter
from bestseller_cli.cli.common import console, err_console, examples, print_json, settings
from bestseller_cli.cli.tables import Cell, Column, Kind, WideOption, build_table
from bestseller_cli.kinds import kind_of
from bestseller_cli.store import outbox_store

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
    wide: WideOption = False,
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
    now = datetime.now(UTC)
    title = "Undelivered alerts" if undelivered else "Alerts"
    cells = [alert_cells(row) for row in rows]
    width = None if wide else console.width
    console.print(build_table(title, ALERT_COLUMNS, cells, width=width, now=now), crop=False)


ALERT_COLUMNS = [
    Column("Id", Kind.NUMBER),
    Column("Detected", Kind.DATE),
    Column("Status", Kind.ID),
    Column("ASIN", Kind.ID),
    Column("Change", Kind.TEXT),
    Column("Market", Kind.ID, priority=5),
    Column("Channel", Kind.ID, priority=3),
    Column("Tries", Kind.NUMBER, priority=4),
    Column("Error / reason", Kind.TEXT, priority=2),
]


def alert_cells(row: outbox_store.AlertRow) -> list[Cell]:
    """One row of `alerts list`, in the order of ALERT_COLUMNS."""
    return [
        str(row.id),
        row.detected_at,
        row.status,
        row.asin,
        f"{kind_of(row.kind).verb} in {row.category_name or row.category_id}",
        row.marketplace,
        row.channel or "default",
        str(row.attempts),
        " · ".join(text for text in (row.reason, row.error) if text) or None,
    ]


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
