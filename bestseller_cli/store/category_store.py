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

from bestseller_cli.rules.category_watch import ListDiff, Listed, Role, WatchedCategory

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
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO watched_categories AS w (marketplace, category_id, client_id,"
            " every_hours, top_n, name) VALUES (%s, %s, %s, %s, %s, COALESCE(%s,"
            " (SELECT n.name FROM category_names n WHERE n.marketplace = %s"
            " AND n.category_id = %s)))"
            " ON CONFLICT (marketplace, category_id) DO UPDATE SET"
            " client_id = EXCLUDED.client_id, every_hours = EXCLUDED.every_hours,"
            " top_n = EXCLUDED.top_n, name = COALESCE(EXCLUDED.name, w.name)",
            [
                (
                    marketplace,
                    category,
                    client_id,
                    every_hours,
                    top_n,
                    names.get(category),
                    marketplace,
                    category,
                )
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
    with conn.transaction():
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


# Whose each listed product is for the watching client: its own, a tracked competitor, or
# untracked; with the title of its state or the one kept from a /product answer.
KNOWN_PRODUCTS_SQL = """
SELECT a.asin, COALESCE(max(s.title), max(l.title)) AS title,
       bool_or(t.id IS NOT NULL) AS tracked,
       bool_or(t.role = 'own' AND t.client_id IS NOT DISTINCT FROM %(client)s) AS own
FROM unnest(%(asins)s::text[]) AS a(asin)
LEFT JOIN tracked_asins t ON t.asin = a.asin AND t.marketplace = %(market)s AND t.active
LEFT JOIN asin_current_state s ON s.asin = a.asin AND s.marketplace = %(market)s
LEFT JOIN listed_products l ON l.asin = a.asin AND l.marketplace = %(market)s
GROUP BY a.asin
"""


def known_products(
    conn: psycopg.Connection, marketplace: str, asins: Sequence[str], *, client_id: int | None
) -> dict[str, Listed]:
    """What we know of the ASINs for the client; one without a title is one to name."""
    params = {"asins": list(dict.fromkeys(asins)), "market": marketplace, "client": client_id}
    known = {}
    for asin, title, tracked, own in conn.execute(KNOWN_PRODUCTS_SQL, params):
        role = Role.OWN if own else Role.COMPETITOR if tracked else Role.UNTRACKED
        known[asin] = Listed(asin, title, role)
    return known


def keep_names(conn: psycopg.Connection, marketplace: str, titles: dict[str, str | None]) -> None:
    """Titles /product answered for listed products nobody tracks (None: Keepa had none)."""
    if titles:
        conn.execute(
            "INSERT INTO listed_products AS l (marketplace, asin, title)"
            " SELECT %s, * FROM unnest(%s::text[], %s::text[])"
            " ON CONFLICT (marketplace, asin) DO UPDATE SET title = EXCLUDED.title,"
            " named_at = now()",
            (marketplace, list(titles), list(titles.values())),
        )


def stretch(
    conn: psycopg.Connection, stretched: Sequence[tuple[WatchedCategory, datetime]]
) -> None:
    """Move the next check of categories the plan could not afford this run."""
    if stretched:
        conn.execute(
            "UPDATE watched_categories w SET next_check_at = s.at"
            " FROM unnest(%s::bigint[], %s::timestamptz[]) AS s(id, at) WHERE w.id = s.id",
            ([w.id for w, _ in stretched], [at for _, at in stretched]),
        )


# The watch's state after a list, and the holder's stretches: the open one closes where
# another ASIN's begins.
SAVE_WATCH_SQL = """
UPDATE watched_categories SET last_checked_at = %(checked)s, list_updated_at = %(updated)s,
    next_check_at = %(next)s, empty_answers = %(empty)s, top_asins = %(top)s,
    tokens_per_list = %(tokens)s
WHERE id = %(id)s
"""
CLOSE_STRETCH_SQL = """
UPDATE category_holders SET held_until = greatest(%(at)s, held_from)
WHERE marketplace = %(market)s AND category_id = %(category)s AND held_until IS NULL
  AND asin <> %(asin)s
"""
OPEN_STRETCH_SQL = """
INSERT INTO category_holders (marketplace, category_id, asin, held_from)
SELECT %(market)s, %(category)s, %(asin)s, %(at)s
WHERE NOT EXISTS (SELECT 1 FROM category_holders WHERE marketplace = %(market)s
                  AND category_id = %(category)s AND held_until IS NULL)
ON CONFLICT DO NOTHING
"""


def save_list(conn: psycopg.Connection, diff: ListDiff, *, next_check_at: datetime) -> None:
    """The watch's state after a list, and its holder's stretch, in the caller's
    transaction (with the list's changes: check_store.write_batch)."""
    watched = diff.watched
    conn.execute(
        SAVE_WATCH_SQL,
        {
            "id": watched.id,
            "checked": watched.last_checked_at,
            "updated": watched.list_updated_at,
            "next": next_check_at,
            "empty": watched.empty_answers,
            "top": list(watched.top_asins),
            "tokens": watched.tokens_per_list,
        },
    )
    if diff.stretch is not None:
        params = {
            "market": watched.marketplace,
            "category": watched.category_id,
            "asin": diff.stretch.asin,
            "at": diff.stretch.at,
        }
        conn.execute(CLOSE_STRETCH_SQL, params)
        conn.execute(OPEN_STRETCH_SQL, params)
