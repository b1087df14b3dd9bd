"""`bestseller prune`: thin out history past the retention window, as printed."""

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer

from bestseller_cli.cli.common import console, print_json, settings
from bestseller_cli.maintenance.retention import prune as prune_history
from bestseller_cli.output import emit, stdout_is_json
from bestseller_cli.store import db

log = logging.getLogger(__name__)


def prune(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Days of full detail to keep (default HISTORY_RETENTION_DAYS)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=100, help="Rows per batch; each batch is one short transaction.")
    ] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Keep full history for the retention window, then only what reports need."""
    config = settings()
    retention = days or config.history_retention_days
    with db.open_database(config) as conn:
        conn.autocommit = True
        summary = prune_history(
            conn, retention_days=retention, now=datetime.now(UTC), batch_size=batch_size
        )
    if summary.read_only_overridden:
        log.warning(
            "the database is read-only (default_transaction_read_only; Supabase's free plan"
            " past 500 MB): this session wrote anyway, as Supabase documents, to delete old"
            " history; the database stays read-only for everything else until its size is"
            " under the limit",
            extra={"event": "read_only_overridden"},
        )
    if as_json:
        print_json(vars(summary))
        return
    message = (
        f"full detail kept from {summary.cutoff:%Y-%m-%d} (UTC, {retention} days);"
        f" converted {summary.converted_rows:,} old history rows;"
        f" {summary.days_summarized:,} days of checks kept as {summary.spans_written:,} spans;"
        f" deleted {summary.rank_points_deleted:,} rank and"
        f" {summary.detail_points_deleted:,} detail points"
    )
    if stdout_is_json():  # a cron job's log: one line Railway can search
        emit("prune_summary", message, retention_days=retention, **vars(summary))
        return
    console.print(message, highlight=False)
