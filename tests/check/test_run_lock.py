"""A dead pass never blocks the next: the run lock's holder is named by its session, and one
whose pass started longer ago than RUN_DEADLINE_MINUTES allows is ended, said and noted."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.store import asin_store, db, lock_holders
from fakes.keepa_server import FakeKeepa

A = "B0LOCKED01"


def hold_the_run_lock(url: str, *, started: datetime, run_id: int = 7) -> psycopg.Connection:
    """A session holding the run lock as a pass of ours would, named after its run."""
    holder = psycopg.connect(
        url,
        autocommit=True,
        application_name=lock_holders.session_name(since=started, run_id=run_id),
    )
    holder.execute("SELECT pg_advisory_lock(%s)", (db.RUN_LOCK_ID,))
    return holder


@pytest.fixture
def watched(keepa: FakeKeepa, conn: psycopg.Connection) -> None:
    asin_store.add_tracked(conn, asins=[A], marketplace="com", client=None)
    keepa.set_ranks(A, {289913: 2})


def alive(conn: psycopg.Connection, pid: int) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row == (1,)


def open_conditions(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT kind FROM ops_conditions WHERE closed_at IS NULL").fetchall()
    return [kind for (kind,) in rows]


def test_a_pass_that_vanished_hours_ago_is_ended_and_this_one_goes_on(
    watched: None, conn: psycopg.Connection, database_url: str
) -> None:
    zombie = hold_the_run_lock(database_url, started=datetime.now(UTC) - timedelta(hours=3))
    pid = zombie.info.backend_pid
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert f"warning: ended session pid {pid} (bestseller check run 7 since " in result.output
    assert "held the run lock past RUN_DEADLINE_MINUTES (14 min); this pass goes on" in (
        result.output
    )
    assert not alive(conn, pid)
    checked = conn.execute("SELECT count(*) FROM asin_current_state").fetchone()
    assert checked == (1,)
    assert open_conditions(conn) == ["stale_lock"]

    again = CliRunner().invoke(app, ["check"])  # nothing stale now: the condition clears
    assert again.exit_code == 0 and "ended session" not in again.output
    assert open_conditions(conn) == []


def test_a_live_pass_holding_the_lock_is_left_alone_and_named(
    watched: None, conn: psycopg.Connection, database_url: str
) -> None:
    live = hold_the_run_lock(database_url, started=datetime.now(UTC) - timedelta(minutes=3))
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith(
            f"another check is running (the run lock is held by session pid {live.info.backend_pid}"
            " (bestseller check run 7 since "
        )
    )
    assert "started 3 min ago" in result.output
    assert alive(conn, live.info.backend_pid)
    assert conn.execute("SELECT count(*) FROM asin_current_state").fetchone() == (0,)
    live.close()


@pytest.fixture
def unprivileged_url(database_url: str, conn: psycopg.Connection) -> Iterator[str]:
    """The same database as a role that may not end other roles' sessions."""
    role = f"watcher_{conn.info.backend_pid}"
    conn.execute(f"CREATE ROLE {role} LOGIN")
    conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    yield psycopg.conninfo.make_conninfo(database_url, user=role)
    conn.execute(f"DROP OWNED BY {role}")
    conn.execute(f"DROP ROLE {role}")


def test_a_stale_holder_this_role_may_not_end_stops_the_run_naming_the_session_and_the_fix(
    watched: None,
    conn: psycopg.Connection,
    database_url: str,
    unprivileged_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zombie = hold_the_run_lock(database_url, started=datetime.now(UTC) - timedelta(hours=3))
    pid = zombie.info.backend_pid
    monkeypatch.setenv("DATABASE_URL", unprivileged_url)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: database error: the run lock is held by session pid {pid} (")
    assert line.endswith(
        "and this database role may not end its session; nothing was checked. Fix: run"
        f" `SELECT pg_terminate_backend({pid})` as the database's owner (Supabase: the SQL"
        " editor), then `bestseller check`"
    )
    assert alive(conn, pid)
    zombie.close()


def doctor_row(part: str) -> str:
    """The words of doctor's row for `part`, as JSON lines give them (no table wrapping)."""
    result = CliRunner().invoke(app, ["doctor"], env={"LOG_FORMAT": "json"})
    [row] = [json.loads(line) for line in result.output.splitlines() if f'"{part}"' in line]
    return f"{row['status']}: {row['message']}"


def test_doctor_is_red_for_a_stale_holder_and_yellow_for_a_live_one(
    keepa: FakeKeepa, database_url: str
) -> None:
    live = hold_the_run_lock(database_url, started=datetime.now(UTC))
    assert doctor_row("run lock").startswith(
        f"warn: held right now by session pid {live.info.backend_pid} (bestseller check run 7"
    )
    live.close()

    zombie = hold_the_run_lock(database_url, started=datetime.now(UTC) - timedelta(hours=3))
    row = doctor_row("run lock")
    assert row.startswith(f"fail: held by session pid {zombie.info.backend_pid} (")
    assert "a pass older than RUN_DEADLINE_MINUTES allows: it vanished or hung" in row
    zombie.close()
