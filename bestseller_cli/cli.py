"""The `bestseller` command line: parses arguments, calls the core, prints results."""

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from bestseller_cli import __version__, db, store
from bestseller_cli.config import Settings, load_settings, normalize_marketplace
from bestseller_cli.errors import BestsellerError, ConfigError
from bestseller_cli.models import parse_asin
from bestseller_cli.redact import configure_logging, redact

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


def read_asin_arguments(asins: list[str], file: Path | None) -> list[str]:
    texts = list(asins)
    if file is not None:
        content = sys.stdin.read() if str(file) == "-" else file.read_text()
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
) -> None:
    """Start watching ASINs. Nothing is added when any ASIN is invalid (unless --skip-invalid)."""
    config = settings()
    market = normalize_marketplace(marketplace) if marketplace else config.keepa_domain
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
            added, already = store.add_tracked(conn, asins=valid, marketplace=market, client=client)
        for asin in added:
            console.print(f"[green]added[/green] {asin} ({market})", highlight=False)
        for asin in already:
            console.print(f"already tracked {asin} ({market})", highlight=False)
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
    market = normalize_marketplace(marketplace) if marketplace else None
    if purge and not yes:
        if not sys.stdin.isatty():
            raise ConfigError("--purge deletes history: confirm with --yes when not interactive")
        typer.confirm(f"Delete all history of {', '.join(parsed)}?", abort=True)
    with db.open_database(config) as conn:
        removed = store.remove_tracked(
            conn, asins=parsed, client=client, marketplace=market, purge=purge
        )
    for asin in parsed:
        if asin in removed:
            console.print(f"[yellow]removed[/yellow] {asin}", highlight=False)
        else:
            console.print(f"not tracked {asin}", highlight=False)
    if len(removed) < len(set(parsed)):
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
            "active": row.active,
            "title": row.title,
            "badges": row.badge_names,
            "badge_since": row.badge_since.isoformat() if row.badge_since else None,
            "main_rank": row.main_rank,
            "last_checked_at": row.last_checked_at.isoformat() if row.last_checked_at else None,
            "added_at": row.added_at.isoformat(),
        }
        for row in rows
    ]
    if as_json:
        print_json(records)
        return
    if as_csv:
        write_csv(records)
        return
    if not rows:
        console.print("No ASINs tracked yet. Add one with `bestseller asins add B0XXXXXXXX`.")
        return
    table = Table(title=f"Tracked ASINs ({len(rows)})")
    for column in ("ASIN", "Market", "Client", "Title", "#1 Best Seller in", "Main rank"):
        table.add_column(column)
    table.add_column("Last checked")
    for row in rows:
        badges = ", ".join(row.badge_names) if row.badge_names else "-"
        if row.badge_since:
            badges += f" (since {row.badge_since:%Y-%m-%d %H:%M})"
        table.add_row(
            row.asin + ("" if row.active else " (removed)"),
            row.marketplace,
            row.client or "-",
            (row.title or "-")[:50],
            f"[bold green]{badges}[/bold green]" if row.badge_names else badges,
            f"#{row.main_rank:,}" if row.main_rank else "-",
            f"{row.last_checked_at:%Y-%m-%d %H:%M}" if row.last_checked_at else "never",
        )
    console.print(table)


def write_csv(records: list[dict[str, Any]]) -> None:
    import csv

    if not records:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]))
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
def check() -> None:
    """Run one monitoring pass: fetch ranks, detect badge changes, send alerts."""
    config = settings()
    config.require_keepa_key()
    raise BestsellerError("check is not built yet")


@app.command()
def report() -> None:
    """Report badge changes, holders, alerts, tokens and errors over a period."""
    settings()
    raise BestsellerError("report is not built yet")


def main() -> None:
    app()
