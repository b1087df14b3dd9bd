"""The package's layering is a contract: the import-linter contracts in pyproject.toml hold,
a layer that reaches up fails with the offending import named, and every module imports on
its own in a fresh interpreter (no import cycle hidden by the order of a test run)."""

import pkgutil
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import bestseller_cli

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on `project`'s pyproject.toml and its copy of the package."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(project / "pyproject.toml")],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied so that a test can break a layer on purpose."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "bestseller_cli",
        tmp_path / "bestseller_cli",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path


def add_import(module: Path, statement: str) -> None:
    text = module.read_text()
    docstring_end = text.index('"""', 3) + 3
    module.write_text(f"{text[:docstring_end]}\n{statement}\n{text[docstring_end:]}")


def test_the_package_keeps_every_layer_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "named"),
    [
        (
            "rules/badges.py",
            "from bestseller_cli.store import db",
            "bestseller_cli.rules.badges -> bestseller_cli.store.db",
        ),
        ("rules/story.py", "import httpx", "bestseller_cli.rules.story -> httpx"),
        (
            "keepa/payload.py",
            "from bestseller_cli.store import asin_store",
            "bestseller_cli.keepa.payload -> bestseller_cli.store.asin_store",
        ),
        ("cli/asins.py", "import psycopg", "bestseller_cli.cli.asins -> psycopg"),
        (
            "store/db.py",
            "from bestseller_cli.check import run",
            "bestseller_cli.store.db -> bestseller_cli.check.run",
        ),
        (
            "models.py",
            "from bestseller_cli.rules import badges",
            "bestseller_cli.models -> bestseller_cli.rules.badges",
        ),
        (
            "pictures/charts.py",
            "from bestseller_cli.store import chart_queries",
            "bestseller_cli.pictures.charts -> bestseller_cli.store.chart_queries",
        ),
        (
            "shapes/rank_history.py",
            "from bestseller_cli.pictures import svg",
            "bestseller_cli.shapes.rank_history -> bestseller_cli.pictures.svg",
        ),
        (
            "rules/badges.py",
            "from bestseller_cli.shapes import report_models",
            "bestseller_cli.rules.badges -> bestseller_cli.shapes.report_models",
        ),
    ],
)
def test_an_import_that_breaks_a_layer_fails_with_the_import_named(
    project_copy: Path, module: str, statement: str, named: str
) -> None:
    add_import(project_copy / "bestseller_cli" / module, statement)
    result = lint_imports(project_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert named in " ".join(result.stdout.split())


def every_module() -> list[str]:
    found = pkgutil.walk_packages(bestseller_cli.__path__, prefix="bestseller_cli.")
    # __main__ runs the CLI when imported; `python -m bestseller_cli` is tested elsewhere.
    return sorted(m.name for m in found if not m.name.endswith("__main__"))


def import_alone(module: str) -> str | None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    return None if result.returncode == 0 else f"{module}:\n{result.stderr}"


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    modules = every_module()
    assert "bestseller_cli.rules.badges" in modules and "bestseller_cli.cli.app" in modules
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [failure for failure in pool.map(import_alone, modules) if failure]
    assert not failures, "\n".join(failures)
