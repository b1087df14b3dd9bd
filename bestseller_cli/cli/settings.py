"""`bestseller settings …`: the global notification defaults, for ASINs no client rule covers."""

from typing import Annotated

import typer
from rich.table import Table

from bestseller_cli.cli.common import console, examples, print_json, settings
from bestseller_cli.rules.notify_config import GLOBAL_KEYS, global_key, parse_global_value
from bestseller_cli.store import client_store, db

settings_app = typer.Typer(
    help="Global notification defaults, for ASINs no client rule covers.", no_args_is_help=True
)


@settings_app.command("show", epilog=examples("bestseller settings show --json"))
def settings_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the global notification defaults."""
    config = settings()
    with db.open_database(config) as conn:
        current = client_store.get_global_settings(conn)
    values = {key: getattr(current, key) for key in GLOBAL_KEYS}
    if as_json:
        print_json({**values, "updated_at": current.updated_at})
        return
    table = Table(title="Global notification defaults")
    table.add_column("Key")
    table.add_column("Value")
    for key, value in values.items():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        if key == "slack_channel_id" and value is None:
            shown = f"unset (SLACK_CHANNEL_ID: {config.slack_channel_id or 'unset'})"
        table.add_row(key, shown)
    console.print(table)


@settings_app.command(
    "set",
    epilog=examples(
        "bestseller settings set slack_channel_id C0123ABCD",
        "bestseller settings set notify_lost false",
    ),
)
def settings_set(
    key: Annotated[
        str,
        typer.Argument(
            help=f"One of {', '.join(GLOBAL_KEYS)}.", autocompletion=lambda: list(GLOBAL_KEYS)
        ),
    ],
    value: Annotated[str, typer.Argument(help="New value (none clears slack_channel_id).")],
) -> None:
    """Change one global notification default."""
    config = settings()
    typed = parse_global_value(key, value)
    with db.open_database(config) as conn:
        client_store.set_global_setting(conn, key=global_key(key), value=typed)
    shown = str(typed).lower() if isinstance(typed, bool) else typed
    console.print(f"[green]set[/green] {global_key(key)} = {shown}", highlight=False)
