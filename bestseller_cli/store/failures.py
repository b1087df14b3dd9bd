"""Database failures by name: what happened and what to do, in one line (SUPABASE.md §1).

Decided by the SQLSTATE where the server sent one, by the pooler's `(ECODE)` prefix
(Supavisor's own errors arrive as FATAL XX000, which psycopg raises as InternalError, and
at connect time as an OperationalError without a SQLSTATE), and "the connection is lost"
by `conn.broken`, never by the exception's class. Exit 1 for the database failing, 2 for
a setting that is wrong.
"""

import re
from dataclasses import dataclass

import psycopg

from bestseller_cli.errors import BestsellerError, ConfigError, DatabaseError
from bestseller_cli.redact import redact
from bestseller_cli.store import watchdog

READ_ONLY = "25006"
DISK_FULL = "53100"
# Where the database refuses writes; `check` tells the operations channel from Slack alone.
UNWRITABLE = frozenset({READ_ONLY, DISK_FULL})


@dataclass(frozen=True)
class Known:
    what: str
    fix: str
    config: bool = False  # a setting is wrong: exit 2


BY_SQLSTATE = {
    READ_ONLY: Known(
        "the database is read-only (SQLSTATE 25006; Supabase's free plan turns read-only"
        " past 500 MB)",
        "free space with `bestseller prune` (it may write to a read-only database, as"
        " Supabase documents) or raise the plan, then run `bestseller doctor`",
    ),
    DISK_FULL: Known(
        "the database's disk is full (SQLSTATE 53100)",
        "free space with `bestseller prune` or give the database more disk, then run"
        " `bestseller doctor`",
    ),
    "53300": Known(
        "the database has no connection slot left (SQLSTATE 53300: too many connections)",
        "close idle sessions (SQL editors, other jobs) or connect through the session pooler",
    ),
    "55P03": Known(
        "a statement waited longer than its lock_timeout for a lock (SQLSTATE 55P03)",
        "another session holds the rows: `bestseller doctor` names a stale run; the next run"
        " tries again",
    ),
    "57014": Known(
        "a statement ran longer than DATABASE_STATEMENT_TIMEOUT_SECONDS and was cancelled"
        " (SQLSTATE 57014)",
        "the database is overloaded or a table is locked; the next run tries again; raise"
        " DATABASE_STATEMENT_TIMEOUT_SECONDS if it keeps happening",
    ),
    "57P03": Known(
        "the database is not accepting connections (SQLSTATE 57P03: starting up, shutting"
        " down, or out of disk)",
        "wait for it to come back; on Supabase, look at the project's status and disk",
    ),
}

# 57014 for another reason than the timeout: pg_cancel_backend, an operator, a shutdown.
CANCELLED = Known(
    "a statement was cancelled by the server or an operator (SQLSTATE 57014)",
    "the next run tries again",
)

# What libpq says at connect time, where no SQLSTATE comes with the message.
CONNECT_TEXTS = {
    "too many clients already": "53300",
    "remaining connection slots are reserved": "53300",
    "the database system is starting up": "57P03",
    "the database system is shutting down": "57P03",
    "the database system is not accepting connections": "57P03",
}

POOLER_CODE = re.compile(r"\((E[A-Z_]+)\)")
POOLER = {
    "ENOTFOUND": Known(
        "the pooler knows no such project or user (ENOTFOUND)",
        "copy the session pooler's connection string from Supabase (user postgres.<project"
        " ref>, the host as shown) into DATABASE_URL",
        config=True,
    ),
    "ETENANTNOTFOUND": Known(
        "the pooler knows no such project (ETENANTNOTFOUND)",
        "copy the session pooler's connection string from Supabase into DATABASE_URL",
        config=True,
    ),
    "ESSLREQUIRED": Known(
        "the pooler requires TLS (ESSLREQUIRED)",
        "add sslmode=require (or verify-full with the project's CA) to DATABASE_URL",
        config=True,
    ),
    "EMAXCONNSESSION": Known(
        "the pooler has no client slot left (EMAXCONNSESSION: session mode takes as many"
        " clients as its pool size)",
        "close other clients of the pooler (another run, a SQL editor, a dashboard) or raise"
        " the pool size",
    ),
    "ECHECKOUTTIMEOUT": Known(
        "the pooler found no free database connection in time (ECHECKOUTTIMEOUT)",
        "close other clients of the pooler or raise the pool size; the next run tries again",
    ),
}


def first_line(exc: BaseException) -> str:
    """A database error's reason in one line, free of secrets (psycopg adds hints below)."""
    lines = redact(str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def known(exc: psycopg.Error) -> Known | None:
    """The failure by its SQLSTATE, its pooler code or (at connect time) its text."""
    text = first_line(exc)
    code = POOLER_CODE.search(text)
    if code and (exc.sqlstate in (None, "XX000")):
        return POOLER.get(
            code.group(1),
            Known(
                f"the pooler refused ({code.group(1)})",
                "see the pooler's documentation for the code; the next run tries again",
            ),
        )
    sqlstate = exc.sqlstate or next(
        (state for words, state in CONNECT_TEXTS.items() if words in text), None
    )
    if sqlstate == "57014" and "statement timeout" not in text:
        return CANCELLED
    return BY_SQLSTATE.get(sqlstate or "")


def named(known_failure: Known, *, then: str, sqlstate: str | None) -> BestsellerError:
    message = f"database error: {known_failure.what}; {then}. Fix: {known_failure.fix}"
    if known_failure.config:
        return ConfigError(message)
    return DatabaseError(message, sqlstate=sqlstate)


def describe(exc: psycopg.Error, *, then: str) -> BestsellerError | None:
    """The failure as one line (`then` says what it means for the work), or None for an
    error that is a bug of ours (bad SQL, a constraint): the caller re-raises it."""
    failure = known(exc)
    if failure is not None:
        return named(failure, then=then, sqlstate=exc.sqlstate)
    if watchdog.connection_lost():
        return DatabaseError(f"database error: the connection was lost ({first_line(exc)}); {then}")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseError(f"database error: {first_line(exc)}; {then}")
    return None


def describe_connect(exc: psycopg.Error) -> BestsellerError:
    failure = known(exc)
    if failure is not None:
        return named(failure, then="could not connect", sqlstate=exc.sqlstate)
    return DatabaseError(f"cannot connect to the database: {redact(str(exc)).strip()}")
