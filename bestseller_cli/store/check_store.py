"""What a check (the monitoring pass) stores per batch: what it observed and which badges
changed (its runs and work list are run_store's).

Owns asin_current_state, category_names and bestseller_changes. The batch
write is one statement, so a batch is written whole or not at all; with them it appends to
the history (asin_checks, rank_points, asin_details: history_store's), queues the
changes' alerts (notification_log: outbox_store's) and logs the batch's Keepa calls
(api_usage_log: log_store's). Reads tracked_asins and clients (the pass's work, who tracks
what).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bestseller_cli.models import ApiCall, CategoryRank, Change, ProductSnapshot, StoredState
from bestseller_cli.rules.badges import RankStep
from bestseller_cli.rules.routing import Delivery
from bestseller_cli.rules.schedule import NextCheck
from bestseller_cli.store.log_store import INSERT_API_CALLS_SQL, api_call_records


@dataclass(frozen=True)
class CachedName:
    name: str | None  # None: Keepa's /category had no name for it when asked
    fetched_at: datetime


@dataclass(frozen=True)
class NameRow:
    """A name to store in category_names; source 'tree' (categoryTree) or 'lookup' (None:
    Keepa has no name for it)."""

    category_id: int
    name: str | None
    source: str


@dataclass(frozen=True)
class KnownAsin:
    previous: StoredState | None
    trackers: list[int | None]
    missing_passes: int = 0  # passes in a row whose Keepa answer left it out


@dataclass(frozen=True)
class KnownBatch:
    asins: dict[str, KnownAsin]
    names: dict[int, CachedName]  # cached names of the batch's categories


# Two row shapes in one round trip, named by the first: tracked ASINs with their state, then
# cached category names.
# The state is restricted to the batch's ASINs on its own side of the join too: otherwise the
# planner may hash or merge the whole of asin_current_state into every batch (seen at 10,000
# ASINs, and in a first pass whose statistics still say the table is empty), a cost per batch
# that grows with the watch list (benchmarks/README.md).
LOAD_BATCH_SQL = """
SELECT t.asin, array_agg(DISTINCT t.client_id) AS trackers, s.category_ranks, s.badges,
       s.baseline_at, s.missing_passes, s.last_checked_at, s.ranks_changed_at,
       NULL::bigint AS category_id, NULL::text AS name, NULL::timestamptz AS fetched_at
FROM tracked_asins t
LEFT JOIN asin_current_state s ON s.asin = t.asin AND s.marketplace = t.marketplace
    AND s.marketplace = %(market)s AND s.asin = ANY(%(asins)s)
WHERE t.marketplace = %(market)s AND t.asin = ANY(%(asins)s) AND t.active
GROUP BY t.asin, s.category_ranks, s.badges, s.baseline_at, s.missing_passes,
    s.last_checked_at, s.ranks_changed_at
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n.category_id, n.name, n.fetched_at
FROM category_names n
WHERE n.marketplace = %(market)s AND n.category_id = ANY(%(categories)s)
"""


def load_batch(
    conn: psycopg.Connection, *, marketplace: str, asins: list[str], category_ids: list[int]
) -> KnownBatch:
    """What we knew of each ASIN of a batch, who tracks it, and the cached names of the
    batch's categories: one round trip."""
    known: dict[str, KnownAsin] = {}
    names: dict[int, CachedName] = {}
    params = {"market": marketplace, "asins": asins, "categories": category_ids}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(LOAD_BATCH_SQL, params):
            if row["asin"] is None:
                names[row["category_id"]] = CachedName(
                    name=row["name"], fetched_at=row["fetched_at"]
                )
                continue
            previous = None
            if row["baseline_at"] is not None:
                previous = StoredState(
                    category_ranks={
                        int(category): CategoryRank(category_id=int(category), **entry)
                        for category, entry in row["category_ranks"].items()
                    },
                    badges={int(category): since for category, since in row["badges"].items()},
                    first_seen_at=row["baseline_at"],
                    checked_at=row["last_checked_at"],
                    series_until=row["ranks_changed_at"],
                )
            known[row["asin"]] = KnownAsin(
                previous=previous,
                trackers=list(row["trackers"]),
                missing_passes=row["missing_passes"] or 0,
            )
    return KnownBatch(asins=known, names=names)


# --- the batch write: one statement ------------------------------------------------------

# asin_current_state's columns a check writes: the snapshot's stored fields (models.py), then
# the state the check led to (observation_record).
SNAPSHOT_COLUMNS = [
    field.serialization_alias or name
    for name, field in ProductSnapshot.model_fields.items()
    if not field.exclude
]
STATE_COLUMNS = [
    *SNAPSHOT_COLUMNS,
    "category_ranks",
    "badges",
    "badge_category_ids",
    "first_seen_at",
    "baseline_at",
    "last_checked_at",
    "next_check_at",
    "check_reason",
]
# How a check updates a known ASIN's column. Any other snapshot column keeps its last known
# value when Keepa did not send one; first_seen_at is kept.
STATE_UPDATES = {
    "available": "EXCLUDED.available",
    "main_rank": "CASE WHEN EXCLUDED.available THEN EXCLUDED.main_rank ELSE s.main_rank END",
    "variation_asins": "EXCLUDED.variation_asins",
    "category_ranks": "EXCLUDED.category_ranks",
    "badges": "EXCLUDED.badges",
    "badge_category_ids": "EXCLUDED.badge_category_ids",
    "baseline_at": "COALESCE(s.baseline_at, EXCLUDED.baseline_at)",
    "last_checked_at": "EXCLUDED.last_checked_at",
    "next_check_at": "EXCLUDED.next_check_at",
    "check_reason": "EXCLUDED.check_reason",
    "last_run_id": "EXCLUDED.last_run_id",
    "missing_passes": "0",
}
_STATE_KEPT = {"asin", "marketplace", "first_seen_at"}
STATE_SET = ",\n        ".join(
    f"{column} = {STATE_UPDATES.get(column, f'COALESCE(EXCLUDED.{column}, s.{column})')}"
    for column in [*STATE_COLUMNS, "last_run_id", "missing_passes"]
    if column not in _STATE_KEPT
)
CHANGE_FIELDS = ", ".join(Change.model_fields)
# An earlier change of a subject found in the same check as a later one: the later one's
# message tells both (rules/story.py, between_checks_line).
FOLDED_REASON = "came and went between two checks: told in the message of the later change"

# Observations are asin_current_state rows (observation_record), typed by the table itself.
WRITE_BATCH_SQL = f"""
WITH obs AS (
    SELECT * FROM jsonb_populate_recordset(NULL::asin_current_state, %(observations)s)
), checks AS (
    -- badge_counts: #1 badges held at the check; NULL: Keepa had no data, status unknown.
    INSERT INTO asin_checks (run_id, marketplace, observed_at, asins, main_ranks, badge_counts)
    SELECT %(run_id)s, marketplace, last_checked_at, array_agg(asin ORDER BY asin),
        array_agg(main_rank ORDER BY asin),
        array_agg(CASE WHEN available THEN cardinality(badge_category_ids) END::smallint
                  ORDER BY asin)
    FROM obs GROUP BY marketplace, last_checked_at
), points AS (
    INSERT INTO rank_points (asin, marketplace, category_id, observed_at, rank)
    SELECT asin, marketplace, category_id, observed_at, rank
    FROM jsonb_to_recordset(%(points)s) AS p(asin text, marketplace text, category_id bigint,
        observed_at timestamptz, rank integer)
    ON CONFLICT DO NOTHING
), details AS (
    -- A value Keepa did not send is no change: the state keeps the last one known.
    INSERT INTO asin_details (asin, marketplace, observed_at, available, title,
        main_category_id, price_cents, rating, review_count)
    SELECT o.asin, o.marketplace, o.last_checked_at, o.available, o.title, o.main_category_id,
        o.price_cents, o.rating, o.review_count
    FROM obs o
    LEFT JOIN asin_current_state s ON s.asin = o.asin AND s.marketplace = o.marketplace
    WHERE s.asin IS NULL OR o.available <> s.available
       OR (o.title IS NOT NULL AND o.title IS DISTINCT FROM s.title)
       OR (o.main_category_id IS NOT NULL
           AND o.main_category_id IS DISTINCT FROM s.main_category_id)
       OR (o.price_cents IS NOT NULL AND o.price_cents IS DISTINCT FROM s.price_cents)
       OR (o.rating IS NOT NULL AND o.rating IS DISTINCT FROM s.rating)
       OR (o.review_count IS NOT NULL AND o.review_count IS DISTINCT FROM s.review_count)
    ON CONFLICT DO NOTHING
), state AS (
    INSERT INTO asin_current_state AS s ({", ".join(STATE_COLUMNS)}, last_run_id)
    SELECT {", ".join(STATE_COLUMNS)}, %(run_id)s
    FROM obs
    ON CONFLICT (asin, marketplace) DO UPDATE SET
        {STATE_SET}
), missing AS (
    -- Left out of Keepa's answer: the last known state stands, unknown after enough passes.
    UPDATE asin_current_state s SET missing_passes = s.missing_passes + 1,
        available = s.available AND s.missing_passes + 1 < %(missing_unknown_after)s,
        last_run_id = %(run_id)s
    FROM jsonb_to_recordset(%(missing)s) AS m(asin text, marketplace text)
    WHERE (s.asin, s.marketplace) = (m.asin, m.marketplace)
), names AS (
    INSERT INTO category_names AS n (marketplace, category_id, name, source, fetched_at)
    SELECT %(marketplace)s, category_id, name, source, now()
    FROM jsonb_to_recordset(%(names)s) AS c(category_id bigint, name text, source text)
    ON CONFLICT (marketplace, category_id) DO UPDATE SET
        name = EXCLUDED.name, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at
), usage AS ({INSERT_API_CALLS_SQL}), changes AS (
    INSERT INTO bestseller_changes ({CHANGE_FIELDS}, run_id)
    SELECT {CHANGE_FIELDS}, %(run_id)s
    FROM jsonb_populate_recordset(NULL::bestseller_changes, %(changes)s)
    ON CONFLICT (asin, marketplace, category_id, run_id, changed_at, kind) DO NOTHING
    RETURNING id, asin, marketplace, category_id, changed_at, kind
), outbox AS (
    INSERT INTO notification_log (change_id, client_id, channel, deliver_after, delivery_mode,
        renotify_window_minutes, status, reason, sent_at)
    SELECT changes.id, d.client_id, d.channel, d.deliver_after, d.delivery_mode,
        d.renotify_window_minutes, COALESCE(d.status, 'pending'), d.reason,
        CASE WHEN d.status IS NOT NULL THEN now() END
    FROM changes JOIN jsonb_to_recordset(%(deliveries)s) AS d(asin text, marketplace text,
        category_id bigint, changed_at timestamptz, kind text, client_id bigint, channel text,
        deliver_after timestamptz, delivery_mode text, renotify_window_minutes integer,
        status text, reason text)
      ON (d.asin, d.marketplace, d.category_id, d.changed_at, d.kind)
       = (changes.asin, changes.marketplace, changes.category_id, changes.changed_at,
          changes.kind)
    RETURNING id, status
)
SELECT (SELECT count(*) FROM changes),
    ARRAY(SELECT id FROM outbox WHERE status = 'pending' ORDER BY id)
"""


@dataclass(frozen=True)
class ObservedProduct:
    snapshot: ProductSnapshot
    state: StoredState | None
    observed_at: datetime
    steps: list[RankStep] = field(default_factory=list)  # category ranks to keep
    next_check: NextCheck | None = None  # None: due at the next run


def observation_record(item: ObservedProduct) -> dict[str, object]:
    """The asin_current_state row (STATE_COLUMNS) a check writes for one product."""
    state = item.state
    ranks = state.category_ranks if state else {}
    badges = state.badges if state else {}
    observed_at = item.observed_at.isoformat()
    return {
        **item.snapshot.model_dump(mode="json", by_alias=True),
        "category_ranks": {
            str(category): {"name": entry.name, "rank": entry.rank}
            for category, entry in ranks.items()
        },
        "badges": {str(category): since.isoformat() for category, since in badges.items()},
        "badge_category_ids": sorted(badges),
        "first_seen_at": observed_at,
        "baseline_at": state.first_seen_at.isoformat() if state else None,
        "last_checked_at": observed_at,
        "next_check_at": (item.observed_at + item.next_check.interval).isoformat()
        if item.next_check
        else None,
        "check_reason": item.next_check.reason if item.next_check else None,
    }


def write_batch(
    conn: psycopg.Connection,
    *,
    run_id: int,
    marketplace: str,
    products: list[ObservedProduct],
    names: list[NameRow],
    changes: list[Change],
    deliveries: list[Delivery],
    calls: list[ApiCall],
    token_cost_usd: float,
    missing: Sequence[ProductSnapshot] = (),
    missing_unknown_after: int = 1,
) -> tuple[int, list[int]]:
    """Write a batch's checks, rank and detail points, state, category names, changes, outbox
    rows and API usage atomically, on an autocommit connection (inside a transaction the caller
    commits).
    `missing`: products Keepa's answer left out, unknown once left out
    `missing_unknown_after` passes in a row.

    Returns (changes written, ids of the notifications queued)."""
    params = {
        "run_id": run_id,
        "marketplace": marketplace,
        "token_cost": token_cost_usd,
        "names": Jsonb(
            [{"category_id": n.category_id, "name": n.name, "source": n.source} for n in names]
        ),
        "observations": Jsonb([observation_record(item) for item in products]),
        "points": Jsonb(
            [
                {
                    "asin": item.snapshot.asin,
                    "marketplace": item.snapshot.marketplace,
                    "category_id": step.category_id,
                    "observed_at": step.at.isoformat(),
                    "rank": step.rank,
                }
                for item in products
                for step in item.steps
            ]
        ),
        "changes": Jsonb([change.model_dump(mode="json") for change in changes]),
        "deliveries": Jsonb(
            [
                {
                    "asin": d.change.asin,
                    "marketplace": d.change.marketplace,
                    "category_id": d.change.category_id,
                    "changed_at": d.change.changed_at.isoformat(),
                    "kind": d.change.kind.value,
                    "client_id": d.client_id,
                    "channel": d.channel,
                    "deliver_after": d.deliver_after.isoformat(),
                    "delivery_mode": d.delivery_mode,
                    "renotify_window_minutes": d.renotify_window_minutes,
                    "status": "suppressed" if d.folded_into_later else None,
                    "reason": FOLDED_REASON if d.folded_into_later else None,
                }
                for d in deliveries
            ]
        ),
        "calls": api_call_records(calls),
        "missing": Jsonb([{"asin": p.asin, "marketplace": p.marketplace} for p in missing]),
        "missing_unknown_after": missing_unknown_after,
    }
    # One statement is one transaction: the whole batch is written, or none of it.
    row = conn.execute(WRITE_BATCH_SQL, params).fetchone()
    assert row is not None
    return row[0], row[1]
