"""The README cannot drift from the CLI (as sqlite-utils' tests/test_docs.py): every command
and every option of its `--help` is documented, and every command line the README shows
parses."""

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from bestseller_cli.cli.app import app

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
CLI = get_command(app)


def command_paths(group: Any, prefix: str = "bestseller") -> list[tuple[str, Any]]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        if getattr(command, "commands", None):
            paths += command_paths(command, path)
        else:
            paths.append((path, command))
    return paths


COMMANDS = command_paths(CLI)


def section(title: str) -> str:
    """The README's text under `## title`, up to the next section."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def rows_of(path: str) -> str:
    """The Commands table's rows whose first cell names `path` (its documentation)."""
    rows = [line for line in section("Commands").splitlines() if line.startswith("| `")]
    names = re.compile(re.escape(path) + r"(?![\w-])")
    return "\n".join(row for row in rows if names.search(row.split(" | ", 1)[0]))


def long_options(command: Any) -> list[str]:
    """Every long option `--help` shows, except `--no-x` where x is off by default anyway."""
    options = []
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        negations = param.secondary_opts if param.default is not False else []
        options += [name for name in [*param.opts, *negations] if name.startswith("--")]
    return options


def readme_command_lines() -> list[str]:
    """Each `bestseller …` invocation in the README's bash code blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    lines = []
    for line in "\n".join(blocks).splitlines():
        for part in re.split(r"&&|\|", line.split(" #", 1)[0]):
            if part.strip().startswith("bestseller "):
                lines.append(part.strip())
    return lines


def test_every_command_is_in_the_readme() -> None:
    missing = [path for path, _ in COMMANDS if path not in README]
    assert missing == []


def test_every_command_has_help_text() -> None:
    assert [path for path, command in COMMANDS if not (command.help or "").strip()] == []


def test_every_command_has_a_row_in_the_commands_table() -> None:
    assert [path for path, _ in COMMANDS if not rows_of(path)] == []


@pytest.mark.parametrize("path, command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_option_of_a_command_is_in_its_row_of_the_commands_table(
    path: str, command: Any
) -> None:
    documented = rows_of(path)
    assert [o for o in long_options(command) if not re.search(rf"{o}(?![\w-])", documented)] == []


def test_the_top_level_options_are_in_the_commands_section() -> None:
    commands = section("Commands")
    assert [option for option in long_options(CLI) if option not in commands] == []


def test_the_readme_shows_bestseller_command_lines() -> None:
    assert len(readme_command_lines()) >= 10


@pytest.mark.parametrize("line", readme_command_lines())
def test_every_command_line_in_the_readme_parses(line: str) -> None:
    command, args, name = CLI, shlex.split(line)[1:], "bestseller"
    while getattr(command, "commands", None) and args and args[0] in command.commands:
        name = f"{name} {args[0]}"
        command, args = command.commands[args[0]], args[1:]
    assert not getattr(command, "commands", None), f"{line}: names no command"
    # Parses and converts every argument and option (a usage error raises); runs nothing.
    command.make_context(name, args)


def test_a_command_line_that_does_not_parse_is_caught() -> None:
    with pytest.raises(Exception, match="No such option"):
        CLI.commands["check"].make_context("bestseller check", ["--dry-rn"])


def layout_table() -> dict[str, set[str]]:
    """The Layout table's folders (or "top level"), each with the modules its row names."""
    rows = [line for line in section("Layout").splitlines() if line.startswith("| ")][1:]
    cells = [row.strip("|").split("|") for row in rows]
    return {
        folder.strip().strip("`"): set(re.findall(r"`(\w+\.py)`", modules))
        for _, folder, modules in cells
    }


def modules_in(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py")} - {"__init__.py", "__main__.py"}


def test_the_layout_table_names_every_folder_and_module_and_only_those_that_exist() -> None:
    package = ROOT / "bestseller_cli"
    folders = {f"{p.parent.name}/" for p in package.glob("*/__init__.py")}
    table = layout_table()
    assert set(table) == folders | {"top level"}
    for folder, named in table.items():
        actual = modules_in(package if folder == "top level" else package / folder)
        assert named == actual, folder


def test_the_layout_names_every_fake_and_only_fakes_that_exist() -> None:
    (paragraph,) = [p for p in section("Layout").split("\n\n") if "`fakes/`" in p]
    named = set(re.findall(r"`(\w+\.py)`", paragraph))
    assert named == modules_in(ROOT / "fakes")


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "pytest"
    assert "```bash\npytest\n```" in README


def test_every_setting_is_in_the_readme_and_env_example() -> None:
    from bestseller_cli.config import Settings

    example = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in README, name
        assert f"{name.upper()}=" in example, name
