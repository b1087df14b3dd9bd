"""Who may run a pass: the run lock, taken over from a pass that vanished.

A pass holds the lock in a session named after it (`bestseller check run 41 since …`). One
that finds the lock held looks at the holder: a pass started longer ago than
RUN_DEADLINE_MINUTES allows has vanished or hung (its watchdog would have ended it), so its
session is ended and this pass goes on, saying so; a pass within its time is left alone.
"""

from datetime import datetime

import psycopg

from bestseller_cli.check.summary import CheckSummary
from bestseller_cli.config import Settings
from bestseller_cli.errors import DatabaseError
from bestseller_cli.store import db, lock_holders


def take_run_lock(
    lock: db.RunLock, *, settings: Settings, now: datetime, summary: CheckSummary
) -> bool:
    """Whether this pass holds the run lock, ending a stale holder's session first. A live
    holder is named in `summary.lock_holder`; a stale one ended in `stale_lock_ended`."""
    if lock.held:
        return True
    found = lock_holders.holder(lock.conn, db.RUN_LOCK_ID)
    if found is None:  # released in the meantime
        lock.held = db.try_run_lock(lock.conn)
        return lock.held
    who = found.describe(now=now)
    if not found.stale(now=now, allowed=lock_holders.stale_after(settings.run_deadline_minutes)):
        summary.lock_holder = who
        return False
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
        summary.lock_holder = who
        return False
    summary.stale_lock_ended = who
    summary.warnings.append(
        f"ended {who}: a pass that vanished or hung held the run lock past"
        f" RUN_DEADLINE_MINUTES ({settings.run_deadline_minutes:g} min); this pass goes on"
    )
    return True
