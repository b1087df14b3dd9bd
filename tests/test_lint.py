"""The tree passes ruff's lint and format checks, so the one test command covers style too."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(executable).exists():
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_no_lint_problems() -> None:
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout


def test_code_is_ruff_formatted() -> None:
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout
