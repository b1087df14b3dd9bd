"""Run as root, the embedded server changes no permission outside BESTSELLER_HOME: what its
package opens for the server's user is closed again when the command ends."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bestseller_cli.store import db, folder_modes

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0,
    reason="only root's embedded server runs as another user and opens folders for it",
)


def modes(paths: list[Path]) -> dict[Path, int]:
    return {path: stat.S_IMODE(path.lstat().st_mode) for path in paths}


def bestseller(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "bestseller_cli", *args],
        env={**environment, "BESTSELLER_HOME": str(home), "LOG_FORMAT": "text"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_private_folder_above_the_home_stays_private(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    home = private / "deeper" / "home"
    home.parent.mkdir(mode=0o700)
    binaries = folder_modes.paths_outside(home, db.embedded_binaries())
    before = modes([tmp_path, private, home.parent])
    shipped = modes([path for path in binaries if path.is_relative_to(db.embedded_binaries())])

    added = bestseller("asins", "add", "B0PRIVATE1", home=home)
    listed = bestseller("asins", "list", "--json", home=home)  # the data stays reachable

    assert added.returncode == 0, added.stderr
    assert listed.returncode == 0 and '"B0PRIVATE1"' in listed.stdout, listed.stderr
    assert modes([tmp_path, private, home.parent]) == before
    assert modes(list(shipped)) == shipped
    assert not (home / "pgdata" / "postmaster.pid").exists()  # stopped before put back


def test_only_bits_added_since_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    folder.chmod(0o710)
    folder_modes.put_back({folder: 0o700})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    folder.chmod(0o500)  # taken away meanwhile: not given back
    folder_modes.put_back({folder: 0o700})
    assert stat.S_IMODE(folder.stat().st_mode) == 0o500


def test_nothing_within_the_home_is_counted_as_outside(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "pgdata").mkdir(parents=True)
    outside = folder_modes.paths_outside(home, home / "pgdata")
    assert tmp_path in outside and Path("/") in outside
    assert not any(path.is_relative_to(home.resolve()) for path in outside)
