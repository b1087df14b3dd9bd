"""The `bestseller` command line: the app, its error handling and its command groups.

Each `cli_*` module parses one group's arguments and prints its results; none holds SQL,
HTTP or business rules."""

import logging
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from bestseller_cli import __version__, db
from bestseller_cli.cli_asins import asins_app
from bestseller_cli.cli_check import check, doctor
from bestseller_cli.cli_clients import clients_app
from bestseller_cli.cli_common import console, err_console, settings
from bestseller_cli.cli_report import report
from bestseller_cli.cli_settings import settings_app
from bestseller_cli.errors import BestsellerError
from bestseller_cli.redact import redact

log = logging.getLogger("bestseller_cli")
# Click's UsageError, whether Typer vendors Click or depends on it.
UsageError: type[Exception] = typer.BadParameter.__base__


class FriendlyErrors(TyperGroup):
    """Turns expected failures into one line and an exit code; traces only at debug level."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BestsellerError as exc:
            err_console.print(f"[red]error:[/red] {escape(redact(str(exc)))}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:
            # Typer would draw a boxed panel; a usage error is one line like every other.
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            message = escape(redact(exc.format_message()) + where)
            err_console.print(f"[red]error:[/red] {message}", highlight=False)
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
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.command()(check)
app.command()(doctor)
app.command()(report)
app.add_typer(asins_app, name="asins")
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


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending database migrations (commands also do this on their own)."""
    config = settings()
    with db.open_database(config, upgrade=False) as conn:
        applied = db.migrate(conn)
    console.print(f"applied {', '.join(applied)}" if applied else "database schema is current")


def main() -> None:
    app()
