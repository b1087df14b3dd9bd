"""Database failures by name: each is one line saying what happened and what to do, with
exit 1 for the database failing and 2 for a setting that is wrong; "the connection is lost"
is decided by `conn.broken`, not by the exception's class."""

import psycopg
import pytest

from bestseller_cli.errors import ConfigError, DatabaseError
from bestseller_cli.store import db, failures

THEN = "the command stopped"


@pytest.mark.parametrize(
    ("error", "says", "exit_code"),
    [
        (
            psycopg.errors.DiskFull("could not extend file: No space left on device"),
            "database error: the database's disk is full (SQLSTATE 53100); the command stopped."
            " Fix: free space with `bestseller prune` or give the database more disk",
            1,
        ),
        (
            psycopg.errors.TooManyConnections("sorry, too many clients already"),
            "database error: the database has no connection slot left (SQLSTATE 53300",
            1,
        ),
        (
            psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
            "database error: a statement ran longer than DATABASE_STATEMENT_TIMEOUT_SECONDS"
            " and was cancelled (SQLSTATE 57014)",
            1,
        ),
        (
            psycopg.errors.InternalError_(
                "(EMAXCONNSESSION) max clients reached in session mode - max clients are"
                " limited to pool_size: 15"
            ),
            "database error: the pooler has no client slot left (EMAXCONNSESSION: session mode"
            " takes as many clients as its pool size); the command stopped. Fix: close other"
            " clients of the pooler",
            1,
        ),
        (
            psycopg.errors.InternalError_("(ECIRCUITBREAKER) too many failed attempts"),
            "database error: the pooler refused (ECIRCUITBREAKER); the command stopped.",
            1,
        ),
        (
            psycopg.OperationalError(
                "connection failed: FATAL:  (ENOTFOUND) tenant/user postgres.abc not found"
            ),
            "database error: the pooler knows no such project or user (ENOTFOUND)",
            2,
        ),
        (
            psycopg.OperationalError("connection failed: FATAL:  sorry, too many clients already"),
            "database error: the database has no connection slot left (SQLSTATE 53300",
            1,
        ),
    ],
)
def test_each_known_failure_is_one_line_with_what_to_do(
    error: psycopg.Error, says: str, exit_code: int
) -> None:
    named = failures.describe(error, then=THEN)
    assert named is not None
    assert str(named).startswith(says), str(named)
    assert "\n" not in str(named) and "Fix: " in str(named)
    assert named.exit_code == exit_code
    assert isinstance(named, ConfigError if exit_code == 2 else DatabaseError)


def test_a_read_only_database_is_named_from_the_server_s_own_error(
    database_url: str, conn: psycopg.Connection
) -> None:
    name = conn.info.dbname
    conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with db.connect(database_url, autocommit=True) as reader:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as raised:
            reader.execute("CREATE TABLE refused (id int)")
        named = failures.describe(raised.value, then=THEN)
    assert isinstance(named, DatabaseError) and named.sqlstate == "25006"
    assert str(named).startswith(
        "database error: the database is read-only (SQLSTATE 25006; Supabase's free plan turns"
        " read-only past 500 MB); the command stopped. Fix: free space with `bestseller prune`"
    )
    conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


def test_a_bug_of_ours_is_not_dressed_up_as_a_database_failure() -> None:
    assert failures.describe(psycopg.errors.UndefinedColumn("no such column"), then=THEN) is None


def test_a_connection_lost_is_told_by_conn_broken_whatever_the_exception_s_class(
    database_url: str, conn: psycopg.Connection
) -> None:
    with db.connect(database_url, autocommit=True) as doomed:
        conn.execute("SELECT pg_terminate_backend(%s)", (doomed.info.backend_pid,))
        with pytest.raises(psycopg.Error) as raised:
            doomed.execute("SELECT 1")
        assert doomed.broken
        named = failures.describe(raised.value, then=THEN)
    assert str(named).startswith("database error: the connection was lost (")
    assert str(named).endswith("); the command stopped")
