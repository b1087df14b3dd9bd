"""All SQL for tracked ASINs and clients. Parameterised always."""

import difflib
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from bestseller_cli.errors import ConfigError


@dataclass(frozen=True)
class TrackedRow:
    asin: str
    marketplace: str
    client: str | None
    role: str  # own: the client's product; competitor: tracked to explain who took #1
    active: bool
    added_at: datetime
    title: str | None
    main_rank: int | None
    badge_names: list[str]
    badge_since: datetime | None
    last_checked_at: datetime | None
    held_alerts: int  # pending alerts waiting for a digest or the end of quiet hours
    available: bool | None  # None: never checked
    product_type: int | None  # Keepa's productType (models.PRODUCT_TYPES)
    variation_asins: list[str]  # a variation parent's children: track these instead
    image_url: str | None
    main_category_id: int | None
    # [{"category_id", "name", "rank"}] by category id; name from category_names first
    category_ranks: list[dict[str, object]]
    keepa_updated_at: datetime | None  # when Keepa last looked at the product
    ranks_changed_at: datetime | None  # the newest rank point: ranks unchanged since


def client_id(conn: psycopg.Connection, name: str | None) -> int | None:
    """The id of the named client (None for no client); ConfigError when it does not exist."""
    if name is None:
        return None
    row = conn.execute("SELECT id FROM clients WHERE name = %s", (name,)).fetchone()
    if row is None:
        names = [row[0] for row in conn.execute("SELECT name FROM clients")]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"no client named {name!r}{hint}: add it with `bestseller clients add {name}`"
        )
    return row[0]


ROLES = ("own", "competitor")


def add_tracked(
    conn: psycopg.Connection,
    *,
    asins: list[str],
    marketplace: str,
    client: str | None,
    role: str | None = None,
) -> tuple[list[str], list[str]]:
    """Track ASINs (re-activating removed ones). Returns (added, already tracked).

    `role` (own or competitor) is set when given; None keeps an entry's role ('own' if new)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    asins = list(dict.fromkeys(asins))  # one command may not touch a row twice
    with conn.transaction():
        owner = client_id(conn, client)
        already = {
            row[0]
            for row in conn.execute(
                "SELECT asin FROM tracked_asins WHERE asin = ANY(%s) AND marketplace = %s"
                " AND client_id IS NOT DISTINCT FROM %s AND active",
                (asins, marketplace, owner),
            )
        }
        conn.execute(
            "INSERT INTO tracked_asins (asin, marketplace, client_id, role)"
            " SELECT unnest(%(asins)s::text[]), %(market)s, %(owner)s, COALESCE(%(role)s, 'own')"
            " ON CONFLICT (asin, marketplace, client_id) DO UPDATE SET active = true,"
            "  removed_at = NULL, role = COALESCE(%(role)s, tracked_asins.role),"
            "  added_at = CASE WHEN tracked_asins.active THEN tracked_asins.added_at"
            "   ELSE now() END"
            " WHERE NOT tracked_asins.active"
            "  OR tracked_asins.role <> COALESCE(%(role)s, tracked_asins.role)",
            {"asins": asins, "market": marketplace, "owner": owner, "role": role},
        )
    added = [asin for asin in asins if asin not in already]
    return added, sorted(already)


@dataclass(frozen=True)
class Removal:
    """What `remove_tracked` did: the entries no longer tracked (ASIN, marketplace, client), and
    with --purge whose history went and whose was kept because someone still tracks them."""

    removed: list[tuple[str, str, str | None]]
    purged: list[str]
    kept_history: list[str]


def remove_tracked(
    conn: psycopg.Connection,
    *,
    asins: list[str],
    client: str | None,
    marketplace: str | None,
    purge: bool,
) -> Removal:
    """Stop tracking (for one client, or for everyone); history is kept unless `purge`."""
    purged: list[str] = []
    kept: list[str] = []
    with conn.transaction():
        owner = client_id(conn, client)
        removed = conn.execute(
            "UPDATE tracked_asins t SET active = false, removed_at = now()"
            " FROM tracked_asins o LEFT JOIN clients c ON c.id = o.client_id"
            " WHERE t.id = o.id AND t.asin = ANY(%s) AND t.active"
            " AND (%s::bigint IS NULL OR t.client_id = %s)"
            " AND (%s::text IS NULL OR t.marketplace = %s)"
            " RETURNING t.asin, t.marketplace, c.name",
            (asins, owner, owner, marketplace, marketplace),
        ).fetchall()
        if purge:
            purged, kept = purge_history(conn, asins=asins, marketplace=marketplace)
    return Removal(
        removed=sorted(removed, key=lambda entry: (entry[0], entry[1], entry[2] or "")),
        purged=purged,
        kept_history=kept,
    )


def purge_history(
    conn: psycopg.Connection, *, asins: list[str], marketplace: str | None
) -> tuple[list[str], list[str]]:
    """Delete everything observed about ASINs no one tracks any more (per marketplace).

    Returns (ASINs purged, ASINs whose history was kept because someone still tracks them)."""
    still_tracked = {
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT asin FROM tracked_asins WHERE active AND asin = ANY(%s)"
            " AND (%s::text IS NULL OR marketplace = %s)",
            (asins, marketplace, marketplace),
        )
    }
    # Changes go first; their outbox rows (notification_log) follow by ON DELETE CASCADE.
    for table in (
        "bestseller_changes",
        "asin_history",
        "rank_points",
        "asin_details",
        "check_spans",
        "asin_current_state",
    ):
        conn.execute(
            f"DELETE FROM {table} t WHERE t.asin = ANY(%s)"
            " AND (%s::text IS NULL OR t.marketplace = %s)"
            " AND NOT (t.asin, t.marketplace) IN"
            "  (SELECT asin, marketplace FROM tracked_asins WHERE active)",
            (asins, marketplace, marketplace),
        )
    conn.execute(PURGE_CHECKS_SQL, {"asins": asins, "marketplace": marketplace})
    unique = sorted(set(asins))
    return [a for a in unique if a not in still_tracked], [a for a in unique if a in still_tracked]


# Takes the purged ASINs out of each batch's parallel arrays; a batch left empty goes.
PURGE_CHECKS_SQL = """
WITH gone AS (
    SELECT c.id, u.n
    FROM asin_checks c CROSS JOIN LATERAL unnest(c.asins) WITH ORDINALITY AS u(asin, n)
    WHERE c.asins && %(asins)s::text[] AND u.asin = ANY(%(asins)s)
      AND (%(marketplace)s::text IS NULL OR c.marketplace = %(marketplace)s)
      AND NOT (u.asin, c.marketplace) IN
          (SELECT asin, marketplace FROM tracked_asins WHERE active)
), kept AS (
    SELECT c.id, array_agg(u.asin ORDER BY u.n) AS asins,
           array_agg(u.main_rank ORDER BY u.n) AS main_ranks,
           array_agg(u.badges ORDER BY u.n) AS badge_counts
    FROM asin_checks c
    CROSS JOIN LATERAL unnest(c.asins, c.main_ranks, c.badge_counts) WITH ORDINALITY
        AS u(asin, main_rank, badges, n)
    WHERE c.id IN (SELECT id FROM gone) AND (c.id, u.n) NOT IN (SELECT id, n FROM gone)
    GROUP BY c.id
), emptied AS (
    DELETE FROM asin_checks
    WHERE id IN (SELECT id FROM gone) AND id NOT IN (SELECT id FROM kept)
)
UPDATE asin_checks c
SET asins = kept.asins, badge_counts = kept.badge_counts,
    main_ranks = CASE WHEN c.main_ranks IS NOT NULL THEN kept.main_ranks END
FROM kept WHERE c.id = kept.id
"""

LIST_TRACKED_SQL = """
SELECT t.asin, t.marketplace, c.name AS client, t.role, t.active, t.added_at,
       s.title, s.main_rank,
       COALESCE((SELECT array_agg(COALESCE(n.name, s.category_ranks -> b.key ->> 'name', b.key)
                                  ORDER BY b.key)
                 FROM jsonb_each_text(s.badges) b
                 LEFT JOIN category_names n
                   ON n.marketplace = s.marketplace AND n.category_id = b.key::bigint),
                '{}') AS badge_names,
       (SELECT min(b.value::timestamptz) FROM jsonb_each_text(s.badges) b) AS badge_since,
       s.last_checked_at,
       (SELECT count(*) FROM notification_log n JOIN bestseller_changes x ON x.id = n.change_id
        WHERE x.asin = t.asin AND x.marketplace = t.marketplace AND n.status = 'pending'
          AND n.deliver_after > now() AND n.client_id IS NOT DISTINCT FROM t.client_id)
         AS held_alerts,
       s.available, s.product_type, COALESCE(s.variation_asins, '{}') AS variation_asins,
       s.image_url, s.main_category_id,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                          'category_id', r.key::bigint,
                          'name', COALESCE(n.name, r.value ->> 'name'),
                          'rank', (r.value ->> 'rank')::int) ORDER BY r.key::bigint)
                 FROM jsonb_each(s.category_ranks) r
                 LEFT JOIN category_names n
                   ON n.marketplace = s.marketplace AND n.category_id = r.key::bigint),
                '[]') AS category_ranks,
       s.keepa_updated_at, s.ranks_changed_at
FROM tracked_asins t
LEFT JOIN clients c ON c.id = t.client_id
LEFT JOIN asin_current_state s ON s.asin = t.asin AND s.marketplace = t.marketplace
WHERE (t.active OR %(all)s)
  AND (%(client)s::text IS NULL OR c.name = %(client)s)
ORDER BY t.asin, t.marketplace, c.name NULLS FIRST
"""


def list_tracked(
    conn: psycopg.Connection, *, client: str | None, include_removed: bool
) -> list[TrackedRow]:
    """Tracked entries (and removed ones with `include_removed`) with their state now."""
    with conn.transaction(), conn.cursor(row_factory=class_row(TrackedRow)) as cur:
        if client is not None:
            client_id(conn, client)
        cur.execute(LIST_TRACKED_SQL, {"all": include_removed, "client": client})
        return cur.fetchall()
