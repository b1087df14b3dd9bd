"""What a pass's runs store, and the work a pass reads: check_runs (owned), and the tracked
ASINs due in a run (reads tracked_asins and clients; asin_current_state for the order).
"""

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from bestseller_cli.errors import ConfigError
from bestseller_cli.rules.run_plan import Candidate
from bestseller_cli.store.client_store import client_id

# --- runs -------------------------------------------------------------------------------


def start_run(
    conn: psycopg.Connection, *, resume_within: timedelta, filtered: bool = False
) -> tuple[int, bool]:
    """Resume the latest full pass that left ASINs unchecked (crash, deadline, tokens) if it
    is recent enough; otherwise start a new one. Returns (run id, resumed).

    A filtered pass (--asin, --client) always starts its own run, which no full pass
    resumes: it neither takes over nor completes an interrupted full pass."""
    with conn.transaction():
        row = None
        if not filtered:
            row = conn.execute(
                "SELECT id FROM check_runs WHERE status IN ('running', 'partial')"
                " AND NOT filtered AND started_at > now() - %s ORDER BY started_at DESC LIMIT 1",
                (resume_within,),
            ).fetchone()
        if row:
            conn.execute(
                "UPDATE check_runs SET status = 'running', finished_at = NULL,"
                " attempts = attempts + 1 WHERE id = %s",
                (row[0],),
            )
            return row[0], True
        row = conn.execute(
            "INSERT INTO check_runs (filtered) VALUES (%s) RETURNING id", (filtered,)
        ).fetchone()
        assert row is not None
        return row[0], False


def finish_run(
    conn: psycopg.Connection, *, run_id: int, status: str, summary: dict[str, object]
) -> None:
    """Close the run; its summary keeps the database's size then (`doctor`'s growth)."""
    with conn.transaction():
        conn.execute(
            "UPDATE check_runs SET status = %s, finished_at = now(),"
            " summary = %s || jsonb_build_object('database_bytes',"
            "  pg_database_size(current_database())) WHERE id = %s",
            (status, Jsonb(summary), run_id),
        )


# Tracked, active, selected, and not yet checked by this run (a resumed run skips what it did).
WORK_SOURCE = """
FROM tracked_asins t
LEFT JOIN clients c ON c.id = t.client_id
LEFT JOIN asin_current_state s ON s.asin = t.asin AND s.marketplace = t.marketplace
WHERE t.active
  AND (%(asins)s::text[] IS NULL OR t.asin = ANY(%(asins)s))
  AND (%(client)s::text IS NULL OR c.name = %(client)s)
  AND (%(run)s::bigint IS NULL OR s.last_run_id IS DISTINCT FROM %(run)s)
"""


@dataclass(frozen=True)
class WorkSelection:
    run_id: int | None
    asins: list[str] | None = None
    client: str | None = None

    def params(self) -> dict[str, object]:
        return {"run": self.run_id, "asins": self.asins, "client": self.client}


def check_selection(
    conn: psycopg.Connection, *, asins: list[str] | None, client: str | None
) -> None:
    """A filtered check that would check nothing is a typo: refuse an unknown client, or an
    ASIN not watched (by that client)."""
    client_id(conn, client)
    if not asins:
        return
    watched = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT t.asin FROM tracked_asins t LEFT JOIN clients c ON c.id = t.client_id"
            " WHERE t.active AND t.asin = ANY(%s) AND (%s::text IS NULL OR c.name = %s)",
            (asins, client, client),
        )
    }
    missing = [asin for asin in dict.fromkeys(asins) if asin not in watched]
    if missing:
        by = f" by client {client}" if client else ""
        raise ConfigError(
            f"not watched{by}: {', '.join(missing)} (add with `bestseller asins add`)"
        )


def count_work(conn: psycopg.Connection, selection: WorkSelection) -> int:
    """(ASIN, marketplace) pairs the pass will fetch: one Keepa token each."""
    row = conn.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT t.marketplace, t.asin {WORK_SOURCE}) work",
        selection.params(),
    ).fetchone()
    return row[0] if row else 0


@dataclass(frozen=True)
class WorkChunk:
    """ASINs of one marketplace to check, and since when each was last seen: our check or
    Keepa's data then, whichever is older (None: never checked). `live`: asked for live data
    (`update=0`, which applies to every ASIN of a request)."""

    marketplace: str
    asins: list[str]
    since: dict[str, datetime | None]
    live: bool = False


def work_chunks(
    conn: psycopg.Connection, selection: WorkSelection, *, page_size: int
) -> Iterator[WorkChunk]:
    """The pass's work as chunks per marketplace in key order, read a page at a time
    (keyset), so memory does not grow with the watch list."""
    after = ("", "")
    while True:
        rows = conn.execute(
            "SELECT DISTINCT t.marketplace, t.asin,"
            " LEAST(s.last_checked_at, s.keepa_updated_at) AS since"
            f" {WORK_SOURCE}"
            " AND (t.marketplace, t.asin) > (%(after_marketplace)s, %(after_asin)s)"
            " ORDER BY t.marketplace, t.asin LIMIT %(limit)s",
            {
                **selection.params(),
                "after_marketplace": after[0],
                "after_asin": after[1],
                "limit": page_size,
            },
        ).fetchall()
        for marketplace, group in itertools.groupby(rows, key=lambda row: row[0]):
            since = {asin: moment for _, asin, moment in group}
            yield WorkChunk(marketplace=marketplace, asins=list(since), since=since)
        if len(rows) < page_size:
            return
        after = rows[-1][:2]


def due_candidates(
    conn: psycopg.Connection, selection: WorkSelection, *, horizon: datetime
) -> list[Candidate]:
    """The watched ASINs due by `horizon` (or never checked), not yet checked by this run:
    what a scheduled run chooses from (rules/run_plan.plan_run)."""
    with conn.cursor(row_factory=class_row(Candidate)) as cur:
        rows = cur.execute(
            "SELECT t.marketplace, t.asin, min(s.last_checked_at) AS last_checked_at,"
            " min(s.next_check_at) AS next_check_at, min(t.added_at) AS watched_since,"
            " min(LEAST(s.last_checked_at, s.keepa_updated_at)) AS since,"
            " min(s.keepa_updated_at) AS keepa_updated_at,"
            " COALESCE(max(s.chance_per_hour), 0) AS chance_per_hour"
            f" {WORK_SOURCE}"
            " AND (s.next_check_at IS NULL OR s.next_check_at <= %(horizon)s)"
            " GROUP BY t.marketplace, t.asin",
            {**selection.params(), "horizon": horizon},
        ).fetchall()
    return rows


def scheduled_chunks(
    chosen: list[Candidate],
    *,
    page_size: int,
    live: frozenset[tuple[str, str]] = frozenset(),
) -> Iterator[WorkChunk]:
    """A run's chosen ASINs as chunks per marketplace, most urgent first: consecutive ones
    of one marketplace go together, so a request never mixes two; of them, those to ask
    live (`live`, the plan's) go first in chunks of their own, so a request never mixes
    live and plain either."""
    for marketplace, run in itertools.groupby(chosen, key=lambda candidate: candidate.marketplace):
        group = list(run)
        for asked_live in (True, False):
            part = [c for c in group if (c.key in live) is asked_live]
            for start in range(0, len(part), page_size):
                since = {c.asin: c.since for c in part[start : start + page_size]}
                yield WorkChunk(
                    marketplace=marketplace, asins=list(since), since=since, live=asked_live
                )


def interval_counts(conn: psycopg.Connection) -> tuple[Counter[timedelta], int]:
    """The watched ASINs' intervals now (from the last check to the next, to the nearest
    minute: one timed to Keepa's refresh, 60 min 59 s, is not an hour's live check), and how
    many (ASIN, marketplace) pairs are watched: the forecast's input."""
    rows = conn.execute(
        "SELECT date_trunc('minute', s.next_check_at - s.last_checked_at + interval '30 s')"
        " AS interval,"
        " count(*) FROM (SELECT DISTINCT asin, marketplace FROM tracked_asins WHERE active) t"
        " LEFT JOIN asin_current_state s USING (asin, marketplace)"
        " GROUP BY 1"
    ).fetchall()
    counts = Counter({interval: count for interval, count in rows if interval is not None})
    return counts, sum(count for _, count in rows)


# --- per-batch state ----------------------------------------------------------------
