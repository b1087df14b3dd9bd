"""The `bestseller` command line: parses arguments, calls the core, prints results."""

import html
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from typer.core import TyperGroup

from bestseller_cli import __version__, client_store, db, monitor, store
from bestseller_cli.cli_clients import clients_app
from bestseller_cli.cli_settings import settings_app
from bestseller_cli.config import Settings, load_settings, normalize_marketplace
from bestseller_cli.doctor import run_doctor
from bestseller_cli.errors import BestsellerError, ConfigError
from bestseller_cli.models import parse_asin
from bestseller_cli.redact import configure_logging, redact
from bestseller_cli.report import build_report, parse_since
from bestseller_cli.report_format import (
    CSV_FIELDS,
    csv_records,
    markdown_report,
    rich_report,
    slack_report,
)
from bestseller_cli.slack import SlackMessage, SlackSender

console = Console()
err_console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("bestseller_cli")


class FriendlyErrors(TyperGroup):
    """Turns expected failures into one line and an exit code; traces only at debug level."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BestsellerError as exc:
            err_console.print(f"[red]error:[/red] {redact(str(exc))}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if is_cli_framework_signal(exc):
                raise
            log.debug("unexpected error", exc_info=True)
            err_console.print(
                f"[red]unexpected error:[/red] {type(exc).__name__}: {redact(str(exc))}"
                " (set LOG_LEVEL=debug for the trace)",
                highlight=False,
            )
            raise typer.Exit(1) from None


def is_cli_framework_signal(exc: BaseException) -> bool:
    """Usage errors, --help and exits belong to Typer (which may vendor Click)."""
    return isinstance(exc, typer.Exit | typer.Abort) or type(exc).__module__.startswith(
        ("click", "typer")
    )


app = typer.Typer(
    cls=FriendlyErrors,
    help="Watch Amazon ASINs for the #1 Best Seller badge and alert Slack when it moves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
asins_app = typer.Typer(help="Add, remove and list the ASINs being watched.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(asins_app, name="asins")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(settings_app, name="settings")


def settings() -> Settings:
    loaded = load_settings()
    configure_logging(loaded.log_level)
    return loaded


def version_callback(value: bool) -> None:
    if value:
        console.print(f"bestseller-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Watch Amazon ASINs for the #1 Best Seller badge and alert Slack when it moves."""


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def marketplace_option(value: str | None) -> str | None:
    try:
        return normalize_marketplace(value) if value else None
    except ValueError as exc:
        raise ConfigError(f"--marketplace: {exc}") from None


def read_asin_arguments(asins: list[str], file: Path | None) -> list[str]:
    texts = list(asins)
    if file is not None:
        try:
            content = sys.stdin.read() if str(file) == "-" else file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read --file {file}: {exc.strerror or exc}") from None
        for line in content.splitlines():
            line = line.split("#", 1)[0].strip()
            texts.extend(part for part in line.replace(",", " ").split() if part)
    if not texts:
        raise ConfigError("give at least one ASIN, or --file PATH (- for standard input)")
    return texts


@asins_app.command("add")
def asins_add(
    asins: Annotated[list[str] | None, typer.Argument(help="ASINs to watch.")] = None,
    client: Annotated[str | None, typer.Option(help="Client the ASINs belong to.")] = None,
    marketplace: Annotated[
        str | None, typer.Option(help="Amazon marketplace: com, co.uk, de, … (KEEPA_DOMAIN).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read ASINs from a file, - for stdin.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Add the valid ASINs even when some are invalid.")
    ] = False,
    competitor: Annotated[
        bool | None,
        typer.Option(
            "--competitor/--own",
            help="A competitor's products (named when they take #1), or the client's own.",
        ),
    ] = None,
) -> None:
    """Start watching ASINs. Nothing is added when any ASIN is invalid (unless --skip-invalid)."""
    config = settings()
    market = marketplace_option(marketplace) or config.keepa_domain
    valid: list[str] = []
    invalid: list[str] = []
    for text in read_asin_arguments(asins or [], file):
        try:
            valid.append(parse_asin(text))
        except ValueError as exc:
            invalid.append(str(exc))
    for problem in invalid:
        err_console.print(f"[red]invalid:[/red] {problem}", highlight=False)
    if invalid and not skip_invalid:
        raise ConfigError(
            f"{len(invalid)} invalid ASIN(s); nothing was added"
            " (--skip-invalid adds the valid ones)"
        )
    if valid:
        with db.open_database(config) as conn:
            role = None if competitor is None else ("competitor" if competitor else "own")
            added, already = store.add_tracked(
                conn, asins=valid, marketplace=market, client=client, role=role
            )
        as_role = f", {role}" if role else ""
        for asin in added:
            console.print(f"[green]added[/green] {asin} ({market}{as_role})", highlight=False)
        for asin in already:
            console.print(f"already tracked {asin} ({market}{as_role})", highlight=False)
    if invalid:
        raise typer.Exit(1)


@asins_app.command("remove")
def asins_remove(
    asins: Annotated[list[str], typer.Argument(help="ASINs to stop watching.")],
    client: Annotated[str | None, typer.Option(help="Only this client's entries.")] = None,
    marketplace: Annotated[str | None, typer.Option(help="Only this marketplace.")] = None,
    purge: Annotated[
        bool, typer.Option(help="Also delete their history (asks first; --yes skips).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop watching ASINs; their history is kept unless --purge."""
    config = settings()
    try:
        parsed = [parse_asin(text) for text in asins]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    market = marketplace_option(marketplace)
    if purge and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("--purge deletes history: confirm with --yes when not interactive")
        typer.confirm(f"Delete all history of {', '.join(parsed)}?", abort=True)
    with db.open_database(config) as conn:
        result = store.remove_tracked(
            conn, asins=parsed, client=client, marketplace=market, purge=purge
        )
    for asin in dict.fromkeys(parsed):
        if asin in result.removed:
            console.print(f"[yellow]removed[/yellow] {asin}", highlight=False)
        else:
            console.print(f"not tracked {asin}", highlight=False)
    if result.purged:
        console.print(f"[red]deleted history[/red] of {', '.join(result.purged)}", highlight=False)
    if result.kept_history:
        console.print(
            f"kept history of {', '.join(result.kept_history)} (still tracked by another client)",
            highlight=False,
        )
    if len(result.removed) < len(set(parsed)):
        raise typer.Exit(1)


@asins_app.command("list")
def asins_list(
    client: Annotated[str | None, typer.Option(help="Only this client's ASINs.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed ASINs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """List watched ASINs with their badge status now."""
    config = settings()
    with db.open_database(config) as conn:
        rows = store.list_tracked(conn, client=client, include_removed=all_)
    records = [
        {
            "asin": row.asin,
            "marketplace": row.marketplace,
            "client": row.client,
            "role": row.role,
            "active": row.active,
            "title": row.title,
            "badges": row.badge_names,
            "badge_since": row.badge_since.isoformat() if row.badge_since else None,
            "main_rank": row.main_rank,
            "last_checked_at": row.last_checked_at.isoformat() if row.last_checked_at else None,
            "added_at": row.added_at.isoformat(),
            "held_alerts": row.held_alerts,
        }
        for row in rows
    ]
    if as_json:
        print_json(records)
        return
    if as_csv:
        write_csv(records, fieldnames=TRACKED_CSV_FIELDS)
        return
    if not rows:
        console.print("No ASINs tracked yet. Add one with `bestseller asins add B0XXXXXXXX`.")
        return
    table = Table(title=f"Tracked ASINs ({len(rows)})")
    for column in ("ASIN", "Market", "Client", "Title", "#1 Best Seller in", "Main rank"):
        table.add_column(column)
    table.add_column("Last checked")
    table.columns[0].no_wrap = True
    held = any(row.held_alerts for row in rows)
    if held:
        table.add_column("Held alerts")
    for row in rows:
        badges = ", ".join(row.badge_names) if row.badge_names else "-"
        if row.badge_since:
            badges += f" (since {row.badge_since:%Y-%m-%d %H:%M})"
        table.add_row(
            row.asin
            + ("" if row.role == "own" else f" ({row.role})")
            + ("" if row.active else " (removed)"),
            row.marketplace,
            escape(row.client or "-"),
            escape((row.title or "-")[:50]),
            f"[bold green]{escape(badges)}[/bold green]" if row.badge_names else badges,
            f"#{row.main_rank:,}" if row.main_rank else "-",
            f"{row.last_checked_at:%Y-%m-%d %H:%M}" if row.last_checked_at else "never",
            *([str(row.held_alerts or "-")] if held else []),
        )
    console.print(table)


TRACKED_CSV_FIELDS = [
    "asin",
    "marketplace",
    "client",
    "role",
    "active",
    "title",
    "badges",
    "badge_since",
    "main_rank",
    "last_checked_at",
    "added_at",
    "held_alerts",
]


def write_csv(records: list[dict[str, Any]], *, fieldnames: list[str] | None = None) -> None:
    """CSV with a header (even when there are no rows); lists are joined with `;`."""
    import csv

    if not records and not fieldnames:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=fieldnames or list(records[0]))
    writer.writeheader()
    for record in records:
        writer.writerow(
            {k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in record.items()}
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending database migrations (commands also do this on their own)."""
    config = settings()
    with db.open_database(config, upgrade=False) as conn:
        applied = db.migrate(conn)
    console.print(f"applied {', '.join(applied)}" if applied else "database schema is current")


@app.command()
def check(
    asin: Annotated[
        list[str] | None, typer.Option("--asin", help="Only these ASINs (repeatable).")
    ] = None,
    client: Annotated[str | None, typer.Option(help="Only this client's ASINs.")] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Fetch and diff, print what would alert; write and send nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run one monitoring pass: fetch ranks, detect badge changes, send alerts."""
    config = settings()
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
            show=show_alert,
            on_progress=on_progress,
        )
    if as_json:
        print_json(summary_record(summary))
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)


@app.command()
def doctor() -> None:
    """Check settings, database, run lock, Keepa key and budget, Slack token and channels."""
    findings = run_doctor(settings())
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    table = Table(title="bestseller doctor")
    for column in ("", "part", "detail"):
        table.add_column(column)
    for finding in findings:
        colour = colours[finding.status]
        table.add_row(f"[{colour}]{finding.status}[/{colour}]", finding.part, finding.detail)
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


def show_alert(message: SlackMessage) -> None:
    """Alerts without a Slack token are printed here instead of being dropped."""
    console.print(f"ALERT {html.unescape(message.text)}", highlight=False, markup=False)
    for block in message.blocks:
        for element in block.get("elements", []) if block.get("type") == "context" else []:
            for line in element.get("text", "").splitlines():
                console.print(f"      {html.unescape(line)}", highlight=False, markup=False)


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
            "tokens_needed",
            "tokens_available",
            "tokens_used",
            "duration_seconds",
            "detection_latency_ms_max",
            "stopped_because",
            "unchecked",
            "warnings",
        )
    }
    record["changes"] = [change.model_dump(mode="json") for change in summary.changes]
    record["exit_code"] = summary.exit_code
    return record


def print_summary(summary: monitor.CheckSummary) -> None:
    for warning in summary.warnings:
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
        ("first seen (baseline)", summary.baselines),
        ("badges gained", summary.gained),
        ("badges lost", summary.lost),
        ("alerts sent", summary.alerts_sent + summary.alerts_recovered),
        ("alerts printed (no Slack token)", summary.alerts_printed),
        ("alerts folded into a flapping message", summary.alerts_folded_into_flapping),
        ("alerts failed", summary.alerts_failed),
        ("alerts pending", summary.alerts_undelivered),
        ("Keepa tokens used", summary.tokens_used),
        ("Keepa tokens needed / available at start", f"{summary.tokens_needed} / {available}"),
        ("detection to queue (ms, max)", latency),
        ("duration (s)", summary.duration_seconds),
    ]
    for label, value in rows:
        table.add_row(label, "-" if value is None else str(value))
    table.show_header = False
    console.print(table)
    if summary.stopped_because:
        err_console.print(f"[red]stopped early:[/red] {summary.stopped_because}", highlight=False)
    if summary.unchecked:
        shown = ", ".join(summary.unchecked[:20])
        more = f" and {len(summary.unchecked) - 20} more" if len(summary.unchecked) > 20 else ""
        err_console.print(
            f"[red]not checked this run:[/red] {shown}{more} (the next run picks them up)",
            highlight=False,
        )


@app.command()
def report(
    since: Annotated[
        str, typer.Option(help="Period start: 24h, 7d, 2w, or a date 2026-05-01 (UTC).")
    ] = "24h",
    client: Annotated[str | None, typer.Option(help="Only this client's ASINs.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (shape: bestseller_cli/report_models.py).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print one CSV row per ASIN.")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    to_slack: Annotated[bool, typer.Option("--to-slack", help="Also post it to Slack.")] = False,
    channel: Annotated[
        str | None,
        typer.Option(help="Channel for --to-slack; default: the client's, the global one."),
    ] = None,
) -> None:
    """Report badge changes, holders, badge share and streaks, Keepa cost, alerts and errors."""
    config = settings()
    if as_json + as_csv + as_markdown > 1:
        raise ConfigError("choose one of --json, --csv and --markdown")
    until = datetime.now(UTC)
    start = parse_since(since, now=until)
    sender = SlackSender.from_settings(config) if to_slack else None
    with db.open_database(config) as conn:
        result = build_report(
            conn,
            since=start,
            until=until,
            client=client,
            token_cost_usd=config.keepa_token_cost_usd,
        )
        target = channel or client_store.report_channel(conn, client=client)
    target = target or config.slack_channel_id
    if sender is not None and not target:
        raise ConfigError(
            "--to-slack needs a channel: --channel C, `bestseller settings set"
            " slack_channel_id C` or SLACK_CHANNEL_ID"
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif as_csv:
        write_csv(csv_records(result), fieldnames=CSV_FIELDS)
    elif as_markdown:
        sys.stdout.write(markdown_report(result) + "\n")
    else:
        console.print(rich_report(result))
    if sender is not None and target:
        sender.post(channel=target, message=slack_report(result), outbox_ids=[])
        err_console.print(f"[green]posted[/green] the report to {target}", highlight=False)


def main() -> None:
    app()
