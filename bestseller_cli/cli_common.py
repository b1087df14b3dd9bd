"""What every command module shares: the consoles, settings loading, machine output."""

import csv
import json
import sys
from typing import Any

from rich.console import Console

from bestseller_cli.config import Settings, load_settings
from bestseller_cli.errors import ConfigError
from bestseller_cli.models import parse_client_name
from bestseller_cli.redact import configure_logging

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def settings() -> Settings:
    loaded = load_settings()
    configure_logging(loaded.log_level)
    return loaded


def client_name(value: str | None) -> str | None:
    """Typer callback for every client name: trimmed, or a usage error before anything runs."""
    if value is None:
        return None
    try:
        return parse_client_name(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def write_csv(records: list[dict[str, Any]], *, fieldnames: list[str] | None = None) -> None:
    """CSV with a header (even when there are no rows); lists are joined with `;`."""

    if not records and not fieldnames:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=fieldnames or list(records[0]))
    writer.writeheader()
    for record in records:
        writer.writerow(
            {k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in record.items()}
        )
