"""Watched categories: which are watched and how, which are due, what their lists cost,
and the names of the products their lists show.

Owns watched_categories, category_holders and listed_products. Reads clients (a watch's
client by name), tracked_asins and asin_current_state (what a client's products rank in,
whose products a list shows), category_names and api_usage_log (what lists cost over a day).
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from bestseller_cli.rules.category_watch import WatchedCategory

# watched_categories' columns, from the model (`client` is read from clients).
WATCH_COLUMNS = [spec.name for spec in fields(WatchedCategory) if spec.name != "client"]
SELECT_WATCHED = ", ".join(f"w.{column}" for column in WATCH_COLUMNS) + ", c.name AS client"
WATCHED_SQL = f"""
SELECT {SELECT_WATCHED}
FROM watched_categories w LEFT JOIN clients c ON c.id = w.client_id
"""


def watch(
    conn: psycopg.Connection,
    marketplace: str,
    category_ids: Sequence[int],
    *,
    client_id: int | None,
    every_hours: float,
    top_n: int | None,
    names: dict[int, str] | None = None,
) -> list[WatchedCategory]:
    """Watch the categories (again: a watched one takes the new client, interval and top N,
    and keeps its state and next check). Returns them as stored."""
    names = names or {}
    with conn.cursor(row_factory=class_row(WatchedCategory)) as cur:
        cur.executemany(
            "INSERT INTO watched_categories AS w (marketplace, category_id, client_id,"
            " every_hours, top_n, name) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (marketplace, category_id) DO UPDATE SET"
            " client_id = EXCLUDED.client_id, every_hours = EXCLUDED.every_hours,"
            " top_n = EXCLUDED.top_n, name = COALESCE(EXCLUDED.name, w.name)",
            [
                (marketplace, category, client_id, every_hours, top_n, names.get(category))
                for category in dict.fromkeys(category_ids)
            ],
        )
    return [
        watched
        for watched in watched_categories(conn, marketplace=marketplace)
        if watched.category_id in set(category_ids)
    ]


def unwatch(conn: psycopg.Connection, marketplace: str, category_ids: Sequence[int]) -> list[int]:
    """Stop watching; returns the ids that were watched. Their holders' history stays."""
    rows = conn.execute(
        "DELETE FROM watched_categories WHERE marketplace = %s AND category_id = ANY(%s)"
        " RETURNING category_id",
        (marketplace, list(category_ids)),
    ).fetchall()
    return sorted(row[0] for row in rows)


def watched_categories(
    conn: psycopg.Connection, *, marketplace: str | None = None
) -> list[WatchedCategory]:
    with conn.cursor(row_factory=class_row(WatchedCategory)) as cur:
        return cur.execute(
            WATCHED_SQL + " WHERE %(market)s::text IS NULL OR w.marketplace = %(market)s"
            " ORDER BY w.marketplace, w.category_id",
            {"market": marketplace},
        ).fetchall()


def due_categories(conn: psycopg.Connection, *, now: datetime) -> list[WatchedCategory]:
    """The categories due by `now` (never checked first, then the most overdue)."""
    with conn.cursor(row_factory=class_row(WatchedCategory)) as cur:
        return cur.execute(
            WATCHED_SQL + " WHERE w.next_check_at IS NULL OR w.next_check_at <= %s"
            " ORDER BY w.next_check_at NULLS FIRST, w.id",
            (now,),
        ).fetchall()


def list_tokens_since(conn: psycopg.Connection, since: datetime) -> int:
    """Tokens best seller lists cost since then (every /bestsellers request: the watch's
    and the holder lookup's)."""
    row = conn.execute(
        "SELECT coalesce(sum(tokens_consumed), 0) FROM api_usage_log"
        " WHERE endpoint = 'bestsellers' AND called_at >= %s",
        (since,),
    ).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class Suggestion:
    """A category a client's tracked products rank in."""

    marketplace: str
    category_id: int
    name: str | None
    products: int  # tracked products ranked in it
    best_rank: int | None
    watched: bool


# Ranks are the last known ones (asin_current_state.category_ranks); a client's products,
# or with no client those tracked without one.
SUGGEST_SQL = """
SELECT s.marketplace, r.key::bigint AS category_id,
       COALESCE(max(n.name), max(r.value ->> 'name')) AS name,
       count(DISTINCT s.asin)::int AS products, min((r.value ->> 'rank')::int) AS best_rank,
       bool_or(w.id IS NOT NULL) AS watched
FROM tracked_asins t
JOIN asin_current_state s ON s.asin = t.asin AND s.marketplace = t.marketplace
CROSS JOIN LATERAL jsonb_each(s.category_ranks) r
LEFT JOIN category_names n ON n.marketplace = s.marketplace AND n.category_id = r.key::bigint
LEFT JOIN watched_categories w
    ON w.marketplace = s.marketplace AND w.category_id = r.key::bigint
WHERE t.active AND t.client_id IS NOT DISTINCT FROM %(client)s
GROUP BY s.marketplace, r.key
ORDER BY min((r.value ->> 'rank')::int) > 10, count(DISTINCT s.asin) DESC,
         min((r.value ->> 'rank')::int) NULLS LAST, r.key::bigint
"""


def suggestions(conn: psycopg.Connection, *, client_id: int | None) -> list[Suggestion]:
    """The categories the client's products rank in: those with a product in the top 10
    first, then by how many of its products rank there."""
    with conn.cursor(row_factory=class_row(Suggestion)) as cur:
        return cur.execute(SUGGEST_SQL, {"client": client_id}).fetchall()


@dataclass(frozen=True)
class KnownProduct:
    """A product a list shows, as we know it: tracked (by whom, in which role) or named."""

    asin: str
    title: str | None
    tracked: bool
    own: bool  # some client tracks it as its own product


KNOWN_PRODUCTS_SQL = """
SELECT a.asin, COALESCE(s.title, l.title) AS title,
       bool_or(t.id IS NOT NULL) AS tracked, bool_or(COALESCE(t.role = 'own', false)) AS own
FROM unnest(%(asins)s::text[]) AS a(asin)
LEFT JOIN tracked_asins t ON t.asin = a.asin AND t.marketplace = %(market)s AND t.active
LEFT JOIN asin_current_state s ON s.asin = a.asin AND s.marketplace = %(market)s
LEFT JOIN listed_products l ON l.asin = a.asin AND l.marketplace = %(market)s
GROUP BY a.asin, s.title, l.title
"""


def known_products(
    conn: psycopg.Connection, marketplace: str, asins: Sequence[str]
) -> dict[str, KnownProduct]:
    """What we know of the ASINs; one without a title is one to name."""
    with conn.cursor(row_factory=class_row(KnownProduct)) as cur:
        rows = cur.execute(
            KNOWN_PRODUCTS_SQL, {"asins": list(dict.fromkeys(asins)), "market": marketplace}
        ).fetchall()
    return {row.asin: row for row in rows}
