"""`bestseller prune`: keep full detail for HISTORY_RETENTION_DAYS, then what reports need.

Past the window, the checks of each UTC day become spans (runs of checks with the same badge
status: every count, share and streak of the report stays exact for periods that start on a
UTC midnight), main ranks go, and rank and detail points that a later one supersedes go
(points at #1 stay: they tell since when a badge is held). Changes, alerts, Keepa usage and
errors are all kept. Old asin_history rows are converted to the compact form first.
Every step is a bounded batch in its own short transaction; a `check` never waits for it.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import psycopg

from bestseller_cli.errors import DatabaseError
from bestseller_cli.store import db, history_store


@dataclass
class PruneSummary:
    cutoff: datetime  # full detail is kept from this UTC midnight on
    converted_rows: int = 0  # old asin_history rows turned into the compact form
    days_summarized: int = 0
    spans_written: int = 0
    rank_points_deleted: int = 0
    detail_points_deleted: int = 0
    # The database was read-only (Supabase's free plan past 500 MB): this session wrote anyway.
    read_only_overridden: bool = False


def retention_cutoff(*, now: datetime, days: int) -> datetime:
    """The UTC midnight at or before `now - days`: at least `days` days of full detail."""
    return datetime.combine((now - timedelta(days=days)).astimezone(UTC).date(), time(), UTC)


@contextmanager
def history_upkeep(conn: psycopg.Connection) -> Iterator[None]:
    """One conversion or prune at a time: each goes oldest first, batch after batch."""
    if not db.try_advisory_lock(conn, db.PRUNE_LOCK_ID):
        raise DatabaseError("another `bestseller prune` or `db upgrade` is at the history")
    try:
        yield
    finally:
        db.release_advisory_lock(conn, db.PRUNE_LOCK_ID)


def convert_old_history(
    conn: psycopg.Connection,
    *,
    batch_size: int,
    on_batch: Callable[[int], None] = lambda total: None,
) -> int:
    """Convert every asin_history row older versions wrote, oldest first, in batches; inside
    `history_upkeep`. Returns the rows converted."""
    total = 0
    while converted := history_store.convert_legacy_batch(conn, limit=batch_size):
        total += converted
        on_batch(total)
    return total


def prune(
    conn: psycopg.Connection,
    *,
    retention_days: int,
    now: datetime,
    batch_size: int = 5000,
    on_progress: Callable[[PruneSummary], None] = lambda summary: None,
) -> PruneSummary:
    """Convert old rows, then thin out history past the window, batch by batch.

    `conn` must be in autocommit mode: each batch commits on its own."""
    summary = PruneSummary(cutoff=retention_cutoff(now=now, days=retention_days))
    summary.read_only_overridden = db.allow_writes(conn)

    def converted(total: int) -> None:
        summary.converted_rows = total
        on_progress(summary)

    with history_upkeep(conn):
        convert_old_history(conn, batch_size=batch_size, on_batch=converted)
        while (day := history_store.oldest_check_day(conn, before=summary.cutoff)) is not None:
            _, spans = history_store.summarize_day(conn, day=day)
            summary.days_summarized += 1
            summary.spans_written += spans
            on_progress(summary)
        while deleted := history_store.prune_points_batch(
            conn, table="rank_points", cutoff=summary.cutoff, limit=batch_size
        ):
            summary.rank_points_deleted += deleted
            on_progress(summary)
        while deleted := history_store.prune_points_batch(
            conn, table="asin_details", cutoff=summary.cutoff, limit=batch_size
        ):
            summary.detail_points_deleted += deleted
            on_progress(summary)
    return summary
