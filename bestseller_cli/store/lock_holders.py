"""Who holds an advisory lock: the session (pg_locks joined with pg_stat_activity) and the
pass its application_name names, so that a pass that vanished (its host died, its socket
went silent while the pooler keeps the server session) can be told from one still running.

Reads pg_locks and pg_stat_activity; ends a session with pg_terminate_backend.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import class_row

NAME_PREFIX = "bestseller check"
_STARTED = "%Y-%m-%dT%H:%M:%SZ"
_NAME = re.compile(r"^bestseller check(?: run (\d+))? since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$")
# How long to wait for an ended session to be gone (and its lock with it).
TERMINATE_WAIT_MS = 5_000
# A holder is judged stale this long after its run deadline: its watchdog needs seconds.
STALE_GRACE = timedelta(minutes=2)


def stale_after(run_deadline_minutes: float) -> timedelta:
    """How long a pass may hold the run lock: its deadline (RUN_DEADLINE_MINUTES) and a
    grace for its watchdog to end it."""
    return timedelta(minutes=run_deadline_minutes) + STALE_GRACE


def session_name(*, since: datetime, run_id: int | None = None) -> str:
    """The application_name of a pass's sessions: when it started and, once known, its run
    (at most 63 characters, PostgreSQL's limit)."""
    run = "" if run_id is None else f" run {run_id}"
    return f"{NAME_PREFIX}{run} since {since.astimezone(UTC).strftime(_STARTED)}"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    application_name: str | None
    state: str | None
    state_change: datetime | None

    @property
    def started(self) -> datetime | None:
        """When the holder's pass started, by its name; None for a session not named so."""
        match = _NAME.match(self.application_name or "")
        if match is None:
            return None
        return datetime.strptime(match.group(2), _STARTED).replace(tzinfo=UTC)

    def stale(self, *, now: datetime, allowed: timedelta) -> bool:
        """A pass that started longer ago than a run may last has vanished or hung (its
        watchdog ends it at the deadline). An unnamed session is never judged stale."""
        started = self.started
        return started is not None and now - started > allowed

    def describe(self, *, now: datetime) -> str:
        name = self.application_name or "no application_name"
        parts = [f"session pid {self.pid} ({name}"]
        if self.started is not None:
            parts.append(f", started {age(now - self.started)} ago")
        if self.state:
            parts.append(f", {self.state}")
        return "".join(parts) + ")"


def age(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    return f"{minutes // 60} h {minutes % 60} min"


HOLDER_SQL = """
SELECT a.pid, a.application_name, a.state, a.state_change
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %(high)s AND l.objid::bigint = %(low)s
  AND a.pid <> pg_backend_pid()
LIMIT 1
"""


def holder(conn: psycopg.Connection, lock_id: int) -> LockHolder | None:
    """The other session holding the (bigint) advisory lock, if any."""
    params = {"high": lock_id >> 32, "low": lock_id & 0xFFFF_FFFF}
    with conn.cursor(row_factory=class_row(LockHolder)) as cur:
        return cur.execute(HOLDER_SQL, params).fetchone()


def terminate(conn: psycopg.Connection, pid: int) -> bool:
    """End the session and wait a moment for it to be gone; False if it was gone already.
    Raises InsufficientPrivilege where this role may not end it."""
    row = conn.execute("SELECT pg_terminate_backend(%s, %s)", (pid, TERMINATE_WAIT_MS)).fetchone()
    return bool(row and row[0])
