"""A database the tests can break: the job's DATABASE_URL goes through fault proxies, and an
admin session (direct, superuser) inspects and changes it."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    # What `link` proxies to, and a DSN for it: another client gets a link of its own.
    behind: tuple[tuple[str, int] | str, str]

    @contextmanager
    def another_link(self) -> Iterator[tuple[FaultProxy, str]]:
        """A fault proxy of its own for another client, and the DSN through it."""
        upstream, dsn = self.behind
        with FaultProxy(upstream) as proxy:
            yield proxy, proxy.url(dsn)

    def make_read_only(self) -> None:
        """As Supabase's free plan past 500 MB: new sessions may not write."""
        self._set_read_only("on")

    def make_writable(self) -> None:
        self._set_read_only("off")

    def _set_read_only(self, value: str) -> None:
        name = self.admin.info.dbname
        self.admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}')
        # A pooler's idle server sessions keep what they started with: end them.
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

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
