"""Files the commands write (`report --html`, `demo --charts`) replace their target whole and
never write through a symlink planted at the target or at the name written aside first."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.cli.common import write_file

runner = CliRunner()
VICTIM_TEXT = "the operator's own file\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file elsewhere that a planted link points at."""
    path = tmp_path / "elsewhere" / "victim.txt"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


def plant(link: Path, victim: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim)


@pytest.mark.parametrize("planted_at", ["partial", "target", "both"])
def test_a_link_planted_at_either_name_is_replaced_not_followed(
    tmp_path: Path, victim: Path, planted_at: str
) -> None:
    target = tmp_path / "out" / "report.html"
    partial = target.with_name(".report.html.partial")
    if planted_at in {"partial", "both"}:
        plant(partial, victim)
    if planted_at in {"target", "both"}:
        plant(target, victim)

    write_file(target, "<!DOCTYPE html>\n")

    assert victim.read_text() == VICTIM_TEXT
    assert not target.is_symlink() and target.read_text() == "<!DOCTYPE html>\n"
    assert not os.path.lexists(partial)


def test_report_html_leaves_a_linked_file_alone(env: dict[str, str], victim: Path) -> None:
    target = Path(env["BESTSELLER_HOME"]).parent / "report.html"
    plant(target, victim)
    plant(target.with_name(".report.html.partial"), victim)

    result = runner.invoke(app, ["report", "--html", str(target)])

    assert result.exit_code == 0, result.output
    assert victim.read_text() == VICTIM_TEXT
    assert not target.is_symlink() and target.read_text().startswith("<!DOCTYPE html>")


def test_a_file_that_cannot_be_written_leaves_nothing_aside(tmp_path: Path) -> None:
    target = tmp_path / "a-folder"
    target.mkdir()
    with pytest.raises(OSError):
        write_file(target, "text")  # a rename cannot replace a folder with a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]
