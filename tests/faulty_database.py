"""A database the tests can break: the job's DATABASE_URL goes through fault proxies, and an
admin session (direct, superuser) inspects and changes it."""

import time
from dataclasses import dataclass

import psycopg

from bestseller_cli.store import db
from fakes.fault_proxy import FaultProxy

# How long a session cut off by a fault may take to be gone (its lock with it): bounded.
GONE_WITHIN_SECONDS = 30


@dataclass
class FaultyDatabase:
    name: str  # "embedded" or "supabase"
    url: str  # the job's DATABASE_URL, through `link`
    admin: psycopg.Connection  # autocommit
    link: FaultProxy  # the job's own link: latency, partition, reset
    statements: FaultProxy  # where statements pass in plaintext: cut a reply

    def run_lock_held(self) -> bool:
        row = self.admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
            (db.RUN_LOCK_ID >> 32, db.RUN_LOCK_ID & 0xFFFF_FFFF),
        ).fetchone()
        return row != (0,)

    def wait_until_the_run_lock_is_free(self) -> None:
        """After a fault clears, the server notices the dead session: bounded, polled."""
        give_up = time.monotonic() + GONE_WITHIN_SECONDS
        while self.run_lock_held():
            assert time.monotonic() < give_up, "a dead pass's session still holds the lock"
            time.sleep(0.1)
