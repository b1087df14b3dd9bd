"""The `bestseller` command line: the app, its error handling and its command groups.

Each `cli_*` module parses one group's arguments and prints its results; none holds SQL,
HTTP or business rules."""

import logging
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bestseller_cli import __version__
from bestseller_cli.cli.alerts import alerts_app
from bestseller_cli.cli.asins import asins_app
from bestseller_cli.cli.categories import categories_app
from bestseller_cli.cli.check import check, doctor
from bestseller_cli.cli.clients import clients_app
from bestseller_cli.cli.common import console, err_console, examples, settings
from bestseller_cli.cli.demo import demo
from bestseller_cli.cli.prune import prune
from bestseller_cli.cli.report import report
from bestseller_cli.cli.settings import settings_app
from bestseller_cli.errors import BestsellerError, DatabaseError
from bestseller_cli.maintenance import retention
from bestseller_cli.output import configure_from_environment, writes_json
from bestseller_cli.store import db, schema

log = logging.getLogger("bestseller_cli")
# Click's UsageError, whether Typer vendors Click or depends on it.
UsageError: type[Exception] = typer.BadParameter.__base__


class FriendlyErrors(TyperGroup):
    """Turns expected failures into one line and an exit code; traces only at debug level."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """When logs are JSON, a usage error is one JSON line too (Typer draws a box)."""
        configure_from_environment()
        if not (standalone_mode and writes_json(sys.stderr)):
            return super().main(*args, standalone_mode=standalone_mode, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            log.error("aborted", extra={"event": "aborted", "fields": {"exit_code": 1}})
            sys.exit(1)
        except Exception as exc:
            if not (is_cli_framework_signal(exc) and hasattr(exc, "format_message")):
                raise
            exit_code = getattr(exc, "exit_code", 2)
            log.error(
                exc.format_message(),
                extra={"event": "usage_error", "fields": {"exit_code": exit_code}},
            )
            sys.exit(exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BestsellerError as exc:
            fields = {"exit_code": exc.exit_code, "kind": type(exc).__name__}
            log.error(str(exc), extra={"event": "error", "fields": fields})
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:
            # Typer would draw a boxed panel; a usage error is one line like every other.
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            fields = {"exit_code": exc.exit_code}
            log.error(
                exc.format_message() + where, extra={"event": "usage_error", "fields": fields}
            )
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            # The reader left (`report --json | head`): nothing to tell it, and the flush at
            # exit must not fail again on the same pipe.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except Exception as exc:
            if is_cli_framework_signal(exc):
                raise
            log.debug("unexpected error", exc_info=True)
            log.error(
                f"unexpected error: {type(exc).__name__}: {exc}"
                " (set LOG_LEVEL=debug for the trace)",
                extra={"event": "unexpected_error", "fields": {"exit_code": 1}},
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
    context_settings={"help_option_names": ["-h", "--help"]},
    # Click's plain help: at 80 columns it wraps descriptions, never cuts an option's name,
    # and shows no `<bool>` for flags (Typer's rich panels did both).
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.command(epilog=examples("bestseller check --dry-run", "bestseller check --client acme --json"))(
    check
)
app.command(epilog=examples("bestseller doctor"))(doctor)
app.command(
    epilog=examples(
        "bestseller report --since 7d --client acme --markdown",
        "bestseller report --since 2026-11-01 --csv",
    )
)(report)
app.command(epilog=examples("bestseller prune --days 90", "bestseller prune --json"))(prune)
app.command(epilog=examples("bestseller demo", "bestseller demo --html /tmp/day.html"))(demo)
app.add_typer(asins_app, name="asins")
app.add_typer(categories_app, name="categories")
app.add_typer(alerts_app, name="alerts")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(settings_app, name="settings")


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
    configure_from_environment()


@db_app.command("upgrade", epilog=examples("bestseller db upgrade"))
def db_upgrade() -> None:
    """Apply pending database migrations (commands also do this on their own), close the
    schema to every other role again, then convert history older versions wrote, in short
    batches."""
    config = settings()
    with db.open_database(config, upgrade=False) as conn:
        applied = schema.migrate(conn)
        schema.close_again(conn)
        conn.autocommit = True
        try:
            with retention.history_upkeep(conn):
                converted = retention.convert_old_history(conn, batch_size=5000)
        except DatabaseError as exc:
            converted = 0
            err_console.print(f"[yellow]history not converted now:[/yellow] {exc}")
    console.print(f"applied {', '.join(applied)}" if applied else "database schema is current")
    if converted:
        console.print(f"converted {converted:,} rows of old history to the compact form")


def main() -> None:
    app()
