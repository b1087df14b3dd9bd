"""The watch list: which ASINs are tracked, in which marketplace, by which client, in which
role. Parameterised always.

Owns tracked_asins. Reads clients (client_store's: a client's id), asin_current_state,
category_names and notification_log (what `asins list` shows of each entry, and the
entries Keepa says have no ranks); `asins remove --purge` deletes the history through
history_store.purge_history.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from bestseller_cli.store.client_store import client_id
from bestseller_cli.store.history_store import purge_history


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
    next_check_at: datetime | None  # None: never checked, due at the next run
    check_reason: str | None  # why that interval (rules/schedule.py)
    # The chance of a #1 crossing within the hour at the last check (rules/likelihood.py):
    # per hour, the history's part of it, and why (None: not estimated yet).
    chance_per_hour: float | None = None
    crossing_rate: float | None = None
    chance_reason: str | None = None


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
       s.keepa_updated_at, s.ranks_changed_at, s.next_check_at, s.check_reason,
       s.chance_per_hour, s.crossing_rate, s.chance_reason
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


@dataclass(frozen=True)
class KnownKind:
    asin: str
    marketplace: str
    product_type: int
    variation_asins: list[str]


def without_ranks(
    conn: psycopg.Connection, *, asins: list[str] | None = None, marketplace: str | None = None
) -> list[KnownKind]:
    """Tracked ASINs Keepa last said have no ranks: variation parents (5) and invalid (4)."""
    with conn.cursor(row_factory=class_row(KnownKind)) as cur:
        return cur.execute(
            "SELECT DISTINCT s.asin, s.marketplace, s.product_type, s.variation_asins"
            " FROM asin_current_state s JOIN tracked_asins t"
            "  ON t.asin = s.asin AND t.marketplace = s.marketplace AND t.active"
            " WHERE s.product_type IN (4, 5) AND NOT s.available"
            " AND (%(asins)s::text[] IS NULL OR s.asin = ANY(%(asins)s))"
            " AND (%(market)s::text IS NULL OR s.marketplace = %(market)s)"
            " ORDER BY s.marketplace, s.asin",
            {"asins": asins, "market": marketplace},
        ).fetchall()
