"""The reference pages, generated from the code by cog
(`cog -r -I docs/reference docs/reference/*.md`).

Each page holds a `[[[cog` block calling one of these functions; `tests/test_docs.py` fails
while a page differs from what they print now. Nothing here is installed or imported by the
tool itself."""

from collections.abc import Iterator
from enum import Enum
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo
from typer.main import get_command
from typer.testing import CliRunner

from bestseller_cli import errors
from bestseller_cli.cli.app import app
from bestseller_cli.config import Settings

WIDTH = 80  # the width terminals open at: the help is shown as it reads there


def command_paths(group: Any = None, words: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The root, then each group and command, depth first, in the app's order."""
    group = group or get_command(app)
    yield words
    for name, command in getattr(group, "commands", {}).items():
        yield from command_paths(command, (*words, name))


def help_text(words: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        app, [*words, "--help"], prog_name="bestseller", terminal_width=WIDTH
    )
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip()


def commands() -> str:
    """Each command's `--help`, under a heading naming it."""
    sections = []
    for words in command_paths():
        title = " ".join(("bestseller", *words))
        sections.append(f"## {title}\n\n```text\n{help_text(words)}\n```\n")
    return "\n".join(sections)


def default_of(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, float):
        return "`" + f"{value:f}".rstrip("0").rstrip(".") + "`"  # 0.000022, not 2.2e-05
    return f"`{value}`"


def range_of(field: FieldInfo) -> str:
    bounds = []
    for constraint in field.metadata:
        for kind, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(constraint, kind, None)
            if isinstance(constraint, annotated_types.BaseMetadata) and bound is not None:
                bounds.append(f"{sign} {bound:,}")
    if isinstance(field.annotation, type) and issubclass(field.annotation, Enum):
        bounds.append(" \\| ".join(f"`{member.value}`" for member in field.annotation))
    return ", ".join(bounds)


def settings() -> str:
    """A table of every setting: its variable, default, range and meaning."""
    rows = ["| variable | default | range | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        meaning = field.description.replace("|", "\\|")
        rows.append(f"| `{name.upper()}` | {default_of(field)} | {range_of(field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def failures_with(code: errors.ExitCode) -> str:
    """The expected failures (errors.py) that end a command with `code`."""
    found, stack = [], [errors.BestsellerError]
    while stack:
        kind = stack.pop(0)
        stack += kind.__subclasses__()
        if kind.exit_code == code and kind.__module__ == errors.__name__:
            summary = " ".join((kind.__doc__ or "").split()).split(". ")[0].rstrip(".")
            found.append(f"`{kind.__name__}` ({summary})")
    return "; ".join(found) or "—"


def exit_codes() -> str:
    """A table of every exit code: its meaning, and the failures that carry it."""
    rows = ["| code | name | meaning | expected failures with this code |", "|---|---|---|---|"]
    for code in errors.ExitCode:
        rows.append(f"| {int(code)} | `{code.name}` | {code.meaning} | {failures_with(code)} |")
    return "\n".join(rows) + "\n"
