"""All SQL of `bestseller report`: one query per section, scoped to a client when given.

Every query takes the same parameters: since (inclusive), until (exclusive) and client (the
client's name, or None for every ASIN); Keepa's usage is the account's, client or not.

Owns no table: only reads, of the changes, the history, the logs, the outbox, the watch
list and the watched categories' holders.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from bestseller_cli.models import Change
from bestseller_cli.shapes.report_models import CategoryHolders, ErrorKind, Holder
from bestseller_cli.store.outbox_store import NAMES_JOIN, SELECT_CHANGE

# (asin, marketplace) of `alias` belongs to the client; every row when no client is given.
_SCOPE = (
    "(%(client)s::text IS NULL OR ({alias}.asin, {alias}.marketplace) IN"
    " (SELECT t.asin, t.marketplace FROM tracked_asins t JOIN clients c ON c.id = t.client_id"
    "  WHERE c.name = %(client)s))"
)


def _scope(alias: str) -> str:
    return _SCOPE.format(alias=alias)


@dataclass(frozen=True)
class HistoryStats:
    """One (asin, marketplace)'s checks in the period and its longest badge streak."""

    asin: str
    marketplace: str
    title: str | None
    checks: int
    badge_checks: int
    unavailable_checks: int
    streak_checks: int | None
    streak_started_at: datetime | None
    streak_ended_at: datetime | None  # the first check without a badge; None: still held
    streak_last_at: datetime | None  # the streak's last check


@dataclass(frozen=True)
class UsageTotals:
    """The account's Keepa calls, tokens and cost in the period, and all its checks (the
    client's own are in its HistoryStats)."""

    calls: int
    tokens: int
    cost_usd: float
    all_checks: int
    # The passes' answers with fresh data, from Keepa's cache, and their live checks
    # (check_runs.summary, check/summary.py).
    fresh_answers: int = 0
    cached_answers: int = 0
    live_checks: int = 0


CHANGES_SQL = f"""
SELECT {SELECT_CHANGE}
FROM bestseller_changes c
{NAMES_JOIN}
WHERE c.changed_at >= %(since)s AND c.changed_at < %(until)s AND {_scope("c")}
ORDER BY c.changed_at, c.asin, c.category_id
"""

HOLDERS_SQL = """
SELECT s.asin, s.marketplace, s.title, s.main_rank, s.last_checked_at,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'category_id', b.key::bigint,
                    'category_name', COALESCE(n.name, s.category_ranks -> b.key ->> 'name'),
                    'since', b.value) ORDER BY b.key::bigint)
                 FROM jsonb_each_text(s.badges) b
                 LEFT JOIN category_names n
                   ON n.marketplace = s.marketplace AND n.category_id = b.key::bigint),
                '[]') AS badges
FROM asin_current_state s
WHERE s.badges <> '{}'::jsonb
  AND EXISTS (SELECT 1 FROM tracked_asins t LEFT JOIN clients c ON c.id = t.client_id
              WHERE t.active AND t.asin = s.asin AND t.marketplace = s.marketplace
                AND (%(client)s::text IS NULL OR c.name = %(client)s))
ORDER BY s.asin, s.marketplace
"""


def _spans() -> str:
    """Every check of the client's ASINs in the period as a span of one check, and the spans
    `bestseller prune` keeps of checks past the retention window (runs of checks with the
    same badge status, cut at UTC midnight)."""
    return f"""
    SELECT h.asin, h.marketplace, h.observed_at AS started_at, h.observed_at AS ended_at,
           1 AS checks, h.badges IS NOT NULL AS available, COALESCE(h.badges > 0, false) AS holding
    FROM history_checks h
    WHERE h.observed_at >= %(since)s AND h.observed_at < %(until)s
      AND {_scope("h")}
    UNION ALL
    SELECT p.asin, p.marketplace, p.started_at, p.ended_at, p.checks,
           p.holding IS NOT NULL AS available, COALESCE(p.holding, false) AS holding
    FROM check_spans p
    WHERE p.started_at >= %(since)s AND p.started_at < %(until)s
      AND {_scope("p")}
"""


# Streaks are islands of consecutive holding checks (gaps and islands over available spans).
# `h` is read twice rather than materialized (every check of the period, written out and
# sorted whole, was most of the query's time): once for the counts, then only the checks of
# the ASINs that held #1, which alone are sorted into islands.
HISTORY_SQL = f"""
WITH h AS NOT MATERIALIZED ({_spans()}
), counts AS (
    SELECT asin, marketplace,
           COALESCE(sum(checks) FILTER (WHERE available), 0)::int AS checks,
           COALESCE(sum(checks) FILTER (WHERE available AND holding), 0)::int AS badge_checks,
           COALESCE(sum(checks) FILTER (WHERE NOT available), 0)::int AS unavailable_checks
    FROM h GROUP BY asin, marketplace
), seq AS (
    -- Only ASINs that held #1 at some check have a streak: the others' checks (most of them)
    -- are filtered out before anything is sorted.
    SELECT asin, marketplace, h.started_at, h.ended_at, h.checks, h.holding,
           row_number() OVER w - row_number() OVER (
               PARTITION BY asin, marketplace, h.holding ORDER BY h.started_at) AS island,
           lead(h.started_at) OVER w AS next_at
    FROM h
    WHERE h.available
      AND (asin, marketplace) IN (SELECT asin, marketplace FROM counts WHERE badge_checks > 0)
    WINDOW w AS (PARTITION BY asin, marketplace ORDER BY h.started_at)
), streaks AS (
    SELECT asin, marketplace, sum(checks)::int AS checks, min(started_at) AS started_at,
           max(ended_at) AS last_at,
           (array_agg(next_at ORDER BY started_at DESC))[1] AS ended_at
    FROM seq WHERE holding GROUP BY asin, marketplace, island
), longest AS (
    SELECT DISTINCT ON (asin, marketplace) *
    FROM streaks
    ORDER BY asin, marketplace, checks DESC, COALESCE(ended_at, last_at) - started_at DESC,
             started_at
)
SELECT c.asin, c.marketplace,
       COALESCE(
           (SELECT d.title FROM asin_details d
            WHERE d.asin = c.asin AND d.marketplace = c.marketplace
              AND d.observed_at < %(until)s AND d.title IS NOT NULL
            ORDER BY d.observed_at DESC LIMIT 1),
           (SELECT o.title FROM asin_history o
            WHERE o.asin = c.asin AND o.marketplace = c.marketplace AND o.title IS NOT NULL
              AND o.observed_at >= %(since)s AND o.observed_at < %(until)s
            ORDER BY o.observed_at DESC LIMIT 1),
           s.title) AS title,
       c.checks, c.badge_checks, c.unavailable_checks, l.checks AS streak_checks,
       l.started_at AS streak_started_at, l.ended_at AS streak_ended_at,
       l.last_at AS streak_last_at
FROM counts c
LEFT JOIN longest l USING (asin, marketplace)
LEFT JOIN asin_current_state s USING (asin, marketplace)
ORDER BY c.asin, c.marketplace
"""

# Every check of the period, counted from the batches (cardinality, no unnesting), the old
# rows and the spans; what Keepa's answers bought, as the passes of the period counted it.
USAGE_SQL = """
WITH runs AS (
    SELECT COALESCE(sum((summary ->> 'fresh_answers')::bigint), 0) AS fresh_answers,
           COALESCE(sum((summary ->> 'cached_answers')::bigint), 0) AS cached_answers,
           COALESCE(sum((summary ->> 'live_checks')::bigint), 0) AS live_checks
    FROM check_runs
    WHERE started_at >= %(since)s AND started_at < %(until)s
)
SELECT count(*) AS calls, COALESCE(sum(tokens_consumed), 0) AS tokens,
       COALESCE(sum(COALESCE(estimated_cost_usd, tokens_consumed * %(token_cost)s)), 0)
           ::float8 AS cost_usd,
       (SELECT COALESCE(sum(cardinality(c.asins)), 0) FROM asin_checks c
        WHERE c.observed_at >= %(since)s AND c.observed_at < %(until)s)
       + (SELECT count(*) FROM asin_history o
          WHERE o.observed_at >= %(since)s AND o.observed_at < %(until)s)
       + (SELECT COALESCE(sum(p.checks), 0) FROM check_spans p
          WHERE p.started_at >= %(since)s AND p.started_at < %(until)s) AS all_checks,
       (SELECT fresh_answers FROM runs)::int AS fresh_answers,
       (SELECT cached_answers FROM runs)::int AS cached_answers,
       (SELECT live_checks FROM runs)::int AS live_checks
FROM api_usage_log
WHERE called_at >= %(since)s AND called_at < %(until)s
"""

# An alert is the client's when it went to one of its rules, or (no client on the row) when
# it announced a change of one of its ASINs. `held`: pending, but not due before `until`
# (waiting for a digest or the end of quiet hours).
ALERTS_SQL = f"""
SELECT CASE WHEN n.status = 'pending' AND n.deliver_after > %(until)s THEN 'held'
            ELSE n.status END AS status,
       count(*) AS count
FROM notification_log n
LEFT JOIN bestseller_changes b ON b.id = n.change_id
WHERE n.created_at >= %(since)s AND n.created_at < %(until)s AND n.change_id IS NOT NULL
  AND (%(client)s::text IS NULL
       OR n.client_id = (SELECT id FROM clients WHERE name = %(client)s)
       OR (n.client_id IS NULL AND {_scope("b")}))
GROUP BY 1
"""

# Errors about no ASIN in particular (a Keepa outage) concern every client.
ERRORS_SQL = """
SELECT e.source, e.kind, count(*) AS count, max(e.occurred_at) AS last_at,
       (array_agg(e.message ORDER BY e.occurred_at DESC, e.id DESC))[1] AS last_message
FROM error_log e
WHERE e.occurred_at >= %(since)s AND e.occurred_at < %(until)s
  AND (%(client)s::text IS NULL OR e.asin IS NULL
       OR e.asin IN (SELECT t.asin FROM tracked_asins t JOIN clients c ON c.id = t.client_id
                     WHERE c.name = %(client)s))
GROUP BY e.source, e.kind
ORDER BY count(*) DESC, e.source, e.kind
"""


# The watched categories (the client's, with a client) and their holders' stretches: those
# that overlap the period, and the open one (who holds #1 now). A holder's title is its state's
# (tracked) or the one /product gave (listed_products); its role is for the category's client,
# as category_store.known_products decides it for the alerts.
CATEGORIES_SQL = """
WITH watched AS (
    SELECT w.marketplace, w.category_id, w.client_id, COALESCE(w.name, n.name) AS name,
           c.name AS client, w.list_updated_at
    FROM watched_categories w
    LEFT JOIN clients c ON c.id = w.client_id
    LEFT JOIN category_names n
      ON n.marketplace = w.marketplace AND n.category_id = w.category_id
    WHERE %(client)s::text IS NULL OR c.name = %(client)s
), stretches AS (
    SELECT h.marketplace, h.category_id, h.held_from, h.held_until,
           jsonb_build_object(
               'asin', h.asin, 'title', COALESCE(s.title, l.title),
               'role', CASE WHEN r.own THEN 'own' WHEN r.tracked THEN 'competitor'
                            ELSE 'untracked' END,
               'held_from', h.held_from, 'held_until', h.held_until) AS stretch
    FROM watched w
    JOIN category_holders h ON h.marketplace = w.marketplace AND h.category_id = w.category_id
    LEFT JOIN asin_current_state s ON s.asin = h.asin AND s.marketplace = h.marketplace
    LEFT JOIN listed_products l ON l.asin = h.asin AND l.marketplace = h.marketplace
    CROSS JOIN LATERAL (
        SELECT COALESCE(bool_or(t.role = 'own' AND t.client_id IS NOT DISTINCT FROM w.client_id),
                        false) AS own,
               count(t.id) > 0 AS tracked
        FROM tracked_asins t
        WHERE t.active AND t.asin = h.asin AND t.marketplace = h.marketplace) r
    WHERE h.held_until IS NULL OR (h.held_from < %(until)s AND h.held_until > %(since)s)
)
SELECT w.marketplace, w.category_id, w.name, w.client, w.list_updated_at,
       (SELECT s.stretch FROM stretches s
        WHERE s.marketplace = w.marketplace AND s.category_id = w.category_id
          AND s.held_until IS NULL) AS current,
       COALESCE((SELECT jsonb_agg(s.stretch ORDER BY s.held_from) FROM stretches s
                 WHERE s.marketplace = w.marketplace AND s.category_id = w.category_id
                   AND s.held_from < %(until)s), '[]') AS stretches
FROM watched w
ORDER BY w.marketplace, w.category_id
"""


def _params(since: datetime, until: datetime, client: str | None) -> dict[str, Any]:
    return {"since": since, "until": until, "client": client}


def read_one_snapshot(conn: psycopg.Connection) -> None:
    """Make the caller's transaction (opened, nothing run yet) one read-only snapshot, so
    every section of a report sees the same data."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def changes(
    conn: psycopg.Connection, *, since: datetime, until: datetime, client: str | None
) -> list[Change]:
    with conn.cursor(row_factory=class_row(Change)) as cur:
        cur.execute(CHANGES_SQL, _params(since, until, client))
        return cur.fetchall()


def holders(conn: psycopg.Connection, *, client: str | None) -> list[Holder]:
    """ASINs tracked now (by the client) that hold #1 in at least one category now."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(HOLDERS_SQL, {"client": client})
        return [Holder(**row) for row in cur]


def history_stats(
    conn: psycopg.Connection, *, since: datetime, until: datetime, client: str | None
) -> list[HistoryStats]:
    with conn.cursor(row_factory=class_row(HistoryStats)) as cur:
        cur.execute(HISTORY_SQL, _params(since, until, client))
        return cur.fetchall()


def usage(
    conn: psycopg.Connection, *, since: datetime, until: datetime, token_cost_usd: float
) -> UsageTotals:
    """The whole account's: Keepa bills per call, whoever's ASINs were in it."""
    with conn.cursor(row_factory=class_row(UsageTotals)) as cur:
        cur.execute(USAGE_SQL, {"since": since, "until": until, "token_cost": token_cost_usd})
        row = cur.fetchone()
    assert row is not None  # aggregates always return one row
    return row


def alert_counts(
    conn: psycopg.Connection, *, since: datetime, until: datetime, client: str | None
) -> dict[str, int]:
    rows = conn.execute(ALERTS_SQL, _params(since, until, client)).fetchall()
    return {status: count for status, count in rows}


def errors(
    conn: psycopg.Connection, *, since: datetime, until: datetime, client: str | None
) -> list[ErrorKind]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(ERRORS_SQL, _params(since, until, client))
        return [ErrorKind(**row) for row in cur]


def categories(
    conn: psycopg.Connection, *, since: datetime, until: datetime, client: str | None
) -> list[CategoryHolders]:
    """The watched categories (the client's, with one): who held #1 in the period, and now."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(CATEGORIES_SQL, _params(since, until, client))
        return [CategoryHolders(**row) for row in cur]
