"""What every command module shares: the consoles, settings loading, machine output."""

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from bestseller_cli import output
from bestseller_cli.config import Settings, load_settings
from bestseller_cli.errors import ConfigError
from bestseller_cli.escape import csv_cell
from bestseller_cli.models import parse_client_name
from bestseller_cli.output import console, err_console

__all__ = [
    "console",
    "err_console",
    "examples",
    "print_json",
    "settings",
    "single_format",
    "write_csv",
    "write_file",
    "write_html",
]


def settings() -> Settings:
    loaded = load_settings()
    output.configure(level=loaded.log_level, log_format=loaded.log_format)
    return loaded


def examples(*commands: str) -> str:
    """A command's help epilog: one or two invocations to copy (tests parse each one).
    Click's `\\b` keeps the lines as they are instead of rewrapping them into one."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


def single_format(**chosen: bool) -> None:
    """Machine formats exclude each other: two at once is a usage error (exit 2)."""
    flags = [f"--{name.replace('_', '-')}" for name, on in chosen.items() if on]
    if len(flags) > 1:
        names = [f"--{name.replace('_', '-')}" for name in chosen]
        raise ConfigError(f"choose one of {', '.join(names[:-1])} and {names[-1]}")


def client_name(value: str | None) -> str | None:
    """Typer callback for every client name: trimmed, or a usage error before anything runs."""
    if value is None:
        return None
    try:
        return parse_client_name(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def print_json(data: Any) -> None:
    """Indented on a terminal; one line when piped, so a log collector reads one object."""
    indent = 2 if sys.stdout.isatty() else None
    text = json.dumps(output.redacted(data), indent=indent, default=output.machine_value)
    sys.stdout.write(text + "\n")


def write_csv(records: list[dict[str, Any]], *, fieldnames: list[str] | None = None) -> None:
    """CSV with a header (even when there are no rows); every cell through `csv_cell`."""

    if not records and not fieldnames:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=fieldnames or list(records[0]))
    writer.writeheader()
    for record in records:
        writer.writerow({key: csv_cell(value) for key, value in record.items()})


def write_html(page: str, path: str) -> None:
    """To the file (replaced whole: written aside, then renamed), or to stdout for `-`."""
    if path == "-":
        sys.stdout.write(page)
        return
    target = Path(path)
    try:
        write_file(target, page)
    except OSError as exc:
        raise ConfigError(f"--html {path}: cannot write it ({exc.strerror})") from None
    err_console.print(f"wrote the report to {target}", highlight=False)


def write_file(target: Path, text: str) -> None:
    """Replace `target` whole, never writing through a symlink. The text goes to a new file,
    `.NAME.partial` beside it, created exclusively (a link planted at that name is removed,
    never followed), then renamed over the target: a rename replaces a link at the target
    itself, not the file it points to."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)  # a leftover of a crash, or a planted link: not its target
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with os.fdopen(os.open(partial, flags, 0o666), "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
