"""Who may run a pass: the run lock, taken over from a pass that vanished.

A pass holds the lock in a session named after it (`bestseller check run 41 since …`). One
that finds the lock held looks at the holder: a pass started longer ago than
RUN_DEADLINE_MINUTES allows has vanished or hung (its watchdog would have ended it), so its
session is ended and this pass goes on, saying so; a pass within its time is left alone.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg

from bestseller_cli.config import Settings
from bestseller_cli.errors import DatabaseError
from bestseller_cli.store import db, lock_holders


@dataclass(frozen=True)
class LockResult:
    """Whether this pass holds the run lock; the live pass holding it instead (`holder`), or
    the session of a vanished pass this one ended to take it (`stale_ended`)."""

    held: bool
    holder: str | None = None
    stale_ended: str | None = None
    deadline_minutes: float = 0.0

    @property
    def warnings(self) -> list[str]:
        if self.stale_ended is None:
            return []
        return [
            f"ended {self.stale_ended}: a pass that vanished or hung held the run lock past"
            f" RUN_DEADLINE_MINUTES ({self.deadline_minutes:g} min); this pass goes on"
        ]


def take_run_lock(lock: db.RunLock, *, settings: Settings, now: datetime) -> LockResult:
    """Whether this pass holds the run lock, ending a stale holder's session first."""
    if lock.held:
        return LockResult(held=True)
    found = lock_holders.holder(lock.conn, db.RUN_LOCK_ID)
    if found is None:  # released in the meantime
        lock.held = db.try_run_lock(lock.conn)
        return LockResult(held=lock.held)
    who = found.describe(now=now)
    if not found.stale(now=now, allowed=lock_holders.stale_after(settings.run_deadline_minutes)):
        return LockResult(held=False, holder=who)
    try:
        lock_holders.terminate(lock.conn, found.pid)
    except psycopg.errors.InsufficientPrivilege:
        raise DatabaseError(
            f"database error: the run lock is held by {who}, a pass older than"
            f" RUN_DEADLINE_MINUTES ({settings.run_deadline_minutes:g} min) allows, and this"
            " database role may not end its session; nothing was checked. Fix: run"
            f" `SELECT pg_terminate_backend({found.pid})` as the database's owner (Supabase:"
            " the SQL editor), then `bestseller check`"
        ) from None
    lock.held = db.try_run_lock(lock.conn)
    if not lock.held:  # not gone yet: the next run finds it gone
        return LockResult(held=False, holder=who)
    return LockResult(held=True, stale_ended=who, deadline_minutes=settings.run_deadline_minutes)
