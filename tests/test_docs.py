"""The documentation cannot drift from the code (as sqlite-utils' tests/test_docs.py): the
reference pages are what the code prints now, every command, option and setting is in them,
every command line the README and the site show parses, and the site builds with no broken
link and no page left out of its navigation."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from bestseller_cli.cli.app import app
from bestseller_cli.config import Settings

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
README = (ROOT / "README.md").read_text()
PAGES = {path.relative_to(ROOT).as_posix(): path.read_text() for path in DOCS.rglob("*.md")}
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


def section(text: str, title: str) -> str:
    """The text under the heading `title` (any level), up to the next heading."""
    after = re.split(rf"^#+ {re.escape(title)}\n", text, maxsplit=1, flags=re.MULTILINE)
    assert len(after) == 2, f"no section {title!r}"
    return re.split(r"^#+ ", after[1], maxsplit=1, flags=re.MULTILINE)[0]


def reference_of(path: str) -> str:
    """A command's section of the command reference: its `--help` as generated."""
    return section(PAGES["docs/reference/commands.md"], path)


def long_options(command: Any) -> list[str]:
    """Every long option `--help` shows, except `--no-x` where x is off by default anyway."""
    options = []
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        negations = param.secondary_opts if param.default is not False else []
        options += [name for name in [*param.opts, *negations] if name.startswith("--")]
    return options


def command_lines(text: str) -> list[str]:
    """Each `bestseller …` invocation in a page's bash code blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    lines = []
    for line in "\n".join(blocks).splitlines():
        for part in re.split(r"&&|\|", line.split(" #", 1)[0]):
            if part.strip().startswith("bestseller "):
                lines.append(part.strip())
    return lines


SHOWN = sorted({line for text in [README, *PAGES.values()] for line in command_lines(text)})


def cog(*args: str) -> int:
    from cogapp import Cog

    return Cog().main(["cog", "-I", str(REFERENCE), *args])


# The README: one screen that points into the site.


def test_the_readme_is_one_screen() -> None:
    assert len(README.splitlines()) <= 150


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "pytest"
    assert "```bash\npytest\n```" in section(README, "Tests")


def test_the_readme_links_to_every_page_of_the_site() -> None:
    linked = set(re.findall(r"\]\((docs/[\w/.-]+\.md)\)", README))
    assert linked == set(PAGES)


# The generated reference pages.


def test_the_reference_pages_are_what_the_code_says_now() -> None:
    """After changing a command's help, a setting or an exit code:
    `cog -r -I docs/reference docs/reference/*.md`."""
    pages = [str(page) for page in sorted(REFERENCE.glob("*.md"))]
    assert cog("--check", *pages) == 0


def test_a_reference_page_that_differs_from_the_code_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "settings.md"
    text = (REFERENCE / "settings.md").read_text()
    page.write_text(text.replace("| `BATCH_SIZE` | `100` |", "| `BATCH_SIZE` | `50` |"))
    assert page.read_text() != text
    assert cog("--check", str(page)) != 0


def test_every_command_has_help_text() -> None:
    assert [path for path, command in COMMANDS if not (command.help or "").strip()] == []


def test_every_command_has_a_section_in_the_command_reference() -> None:
    headings = set(re.findall(r"^## (.+)$", PAGES["docs/reference/commands.md"], re.MULTILINE))
    assert [path for path, _ in COMMANDS if path not in headings] == []


@pytest.mark.parametrize("path, command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_option_of_a_command_is_whole_in_its_reference(path: str, command: Any) -> None:
    """Each option's full name, never cut to fit 80 columns."""
    documented = reference_of(path)
    assert [o for o in long_options(command) if not re.search(rf"{o}(?![\w-])", documented)] == []


def test_the_top_level_options_are_in_the_command_reference() -> None:
    documented = reference_of("bestseller")
    assert [option for option in long_options(CLI) if option not in documented] == []


def test_the_command_reference_reads_at_80_columns() -> None:
    blocks = re.findall(r"```text\n(.*?)```", PAGES["docs/reference/commands.md"], re.DOTALL)
    assert len(blocks) > len(COMMANDS)
    lines = [line for block in blocks for line in block.splitlines()]
    assert [line for line in lines if len(line) > 80] == []
    assert not [line for line in lines if "<bool>" in line]


def test_every_setting_is_in_the_settings_reference_and_env_example() -> None:
    reference = PAGES["docs/reference/settings.md"]
    example = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"| `{name.upper()}` |" in reference, name
        assert f"{name.upper()}=" in example, name


# Every command line shown parses.


def test_the_readme_and_the_site_show_bestseller_command_lines() -> None:
    assert len(command_lines(README)) >= 5
    assert len(SHOWN) >= 20


@pytest.mark.parametrize("line", SHOWN)
def test_every_command_line_in_the_readme_and_the_site_parses(line: str) -> None:
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


# The architecture page names the code as it is.

ARCHITECTURE = PAGES["docs/architecture.md"]


def layout_table() -> dict[str, set[str]]:
    """The layers table's folders (or "top level"), each with the modules its row names."""
    text = section(ARCHITECTURE, "The layers, in code")
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
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
    named = set(re.findall(r"`(\w+\.py)`", section(ARCHITECTURE, "Tests, benchmarks and fakes")))
    assert named == modules_in(ROOT / "fakes")


# The site builds.


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """A broken link or anchor, or a page missing from the navigation, fails the build."""
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    if not Path(mkdocs).exists():
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "reference" / "settings" / "index.html").exists()
