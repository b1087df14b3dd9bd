"""What a check (the monitoring pass) stores per batch: what it observed and which badges
changed (its runs and work list are run_store's).

Owns asin_current_state, category_names and bestseller_changes. The batch
write is one statement, so a batch is written whole or not at all; with them it appends to
the history (asin_checks, rank_points, asin_details: history_store's), queues the
changes' alerts (notification_log: outbox_store's) and logs the batch's Keepa calls
(api_usage_log: log_store's). Reads tracked_asins and clients (the pass's work, who tracks
what).
"""

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from bestseller_cli.models import ApiCall, CategoryRank, Change, ProductSnapshot, StoredState
from bestseller_cli.rules.batch_diff import BatchOutcome, KnownAsin, NameRow, ObservedProduct
from bestseller_cli.rules.likelihood import Chance
from bestseller_cli.rules.routing import Delivery
from bestseller_cli.store.log_store import INSERT_API_CALLS_SQL, api_call_records


@dataclass(frozen=True)
class CachedName:
    name: str | None  # None: Keepa's /category had no name for it when asked
    fetched_at: datetime


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
       s.keepa_updated_at, s.crossing_rate,
       NULL::bigint AS category_id, NULL::text AS name, NULL::timestamptz AS fetched_at
FROM tracked_asins t
LEFT JOIN asin_current_state s ON s.asin = t.asin AND s.marketplace = t.marketplace
    AND s.marketplace = %(market)s AND s.asin = ANY(%(asins)s)
WHERE t.marketplace = %(market)s AND t.asin = ANY(%(asins)s) AND t.active
GROUP BY t.asin, s.category_ranks, s.badges, s.baseline_at, s.missing_passes,
    s.last_checked_at, s.ranks_changed_at, s.keepa_updated_at, s.crossing_rate
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       n.category_id, n.name, n.fetched_at
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
                keepa_updated_at=row["keepa_updated_at"],
                crossing_rate=row["crossing_rate"],
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
# The chance a check estimated (rules/likelihood.py), a column per field of `Chance`.
CHANCE_COLUMNS = {"per_hour": "chance_per_hour", "lately": "crossing_rate", "why": "chance_reason"}
assert list(CHANCE_COLUMNS) == [spec.name for spec in fields(Chance)]
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
    *CHANCE_COLUMNS.values(),
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
# What identifies a change within a batch: the outbox rows join the changes written on it.
CHANGE_KEY = ("asin", "marketplace", "category_id", "changed_at", "kind")


# The batch's other record sets, each declared once: the SQL reads them as jsonb record sets
# typed by these fields (`record_type`), and `records` writes them in the same order.
@dataclass(frozen=True)
class PointRow:
    asin: str
    marketplace: str
    category_id: int
    observed_at: datetime
    rank: int


@dataclass(frozen=True)
class MissingRow:
    asin: str
    marketplace: str


@dataclass(frozen=True)
class DeliveryRow:
    asin: str
    marketplace: str
    category_id: int
    changed_at: datetime
    kind: str
    client_id: int | None
    channel: str | None
    deliver_after: datetime
    delivery_mode: str
    renotify_window_minutes: int
    status: str | None  # None: pending
    reason: str | None


SQL_TYPES = {int: "bigint", str: "text", datetime: "timestamptz"}


def record_type(row: type) -> str:
    """`name type, ...` of a record set, from the row's fields (the first type of a union)."""

    def sql_type(annotation: Any) -> str:
        return SQL_TYPES.get(annotation) or SQL_TYPES[annotation.__args__[0]]

    return ", ".join(f"{spec.name} {sql_type(spec.type)}" for spec in fields(row))


def columns(row: type, prefix: str = "") -> str:
    return ", ".join(prefix + spec.name for spec in fields(row))


def records(rows: list[Any]) -> Jsonb:
    """Rows as a jsonb record set, times in ISO 8601."""

    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return Jsonb([{key: plain(value) for key, value in asdict(row).items()} for row in rows])


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
    INSERT INTO rank_points ({columns(PointRow)})
    SELECT {columns(PointRow)}
    FROM jsonb_to_recordset(%(points)s) AS p({record_type(PointRow)})
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
    FROM jsonb_to_recordset(%(missing)s) AS m({record_type(MissingRow)})
    WHERE (s.asin, s.marketplace) = (m.asin, m.marketplace)
), names AS (
    INSERT INTO category_names AS n (marketplace, category_id, name, source, fetched_at)
    SELECT %(marketplace)s, {columns(NameRow)}, now()
    FROM jsonb_to_recordset(%(names)s) AS c({record_type(NameRow)})
    ON CONFLICT (marketplace, category_id) DO UPDATE SET
        name = EXCLUDED.name, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at
), usage AS ({INSERT_API_CALLS_SQL}), changes AS (
    INSERT INTO bestseller_changes ({CHANGE_FIELDS}, run_id)
    SELECT {CHANGE_FIELDS}, %(run_id)s
    FROM jsonb_populate_recordset(NULL::bestseller_changes, %(changes)s)
    ON CONFLICT (asin, marketplace, category_id, run_id, changed_at, kind) DO NOTHING
    RETURNING id, {", ".join(CHANGE_KEY)}
), outbox AS (
    INSERT INTO notification_log (change_id, client_id, channel, deliver_after, delivery_mode,
        renotify_window_minutes, status, reason, sent_at)
    SELECT changes.id, d.client_id, d.channel, d.deliver_after, d.delivery_mode,
        d.renotify_window_minutes, COALESCE(d.status, 'pending'), d.reason,
        CASE WHEN d.status IS NOT NULL THEN now() END
    FROM changes JOIN jsonb_to_recordset(%(deliveries)s) AS d({record_type(DeliveryRow)})
      ON ({", ".join("d." + key for key in CHANGE_KEY)})
       = ({", ".join("changes." + key for key in CHANGE_KEY)})
    RETURNING id, status
)
SELECT (SELECT count(*) FROM changes),
    ARRAY(SELECT id FROM outbox WHERE status = 'pending' ORDER BY id)
"""


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
        **{
            column: getattr(item.chance, name) if item.chance else None
            for name, column in CHANCE_COLUMNS.items()
        },
    }


def delivery_row(delivery: Delivery) -> DeliveryRow:
    change = delivery.change
    return DeliveryRow(
        asin=change.asin,
        marketplace=change.marketplace,
        category_id=change.category_id,
        changed_at=change.changed_at,
        kind=change.kind.value,
        client_id=delivery.client_id,
        channel=delivery.channel,
        deliver_after=delivery.deliver_after,
        delivery_mode=delivery.delivery_mode,
        renotify_window_minutes=delivery.renotify_window_minutes,
        status="suppressed" if delivery.folded_into_later else None,
        reason=FOLDED_REASON if delivery.folded_into_later else None,
    )


def write_batch(
    conn: psycopg.Connection,
    outcome: BatchOutcome,
    *,
    run_id: int,
    calls: list[ApiCall],
    token_cost_usd: float,
) -> list[int]:
    """Write a batch's outcome (rules/batch_diff.py) atomically, with the batch's Keepa calls:
    checks, rank and detail points, state, category names, changes, outbox rows and API usage,
    on an autocommit connection (inside a transaction, the caller commits).

    Returns the ids of the notifications queued."""
    products = outcome.observed
    points = [
        PointRow(
            item.snapshot.asin, item.snapshot.marketplace, step.category_id, step.at, step.rank
        )
        for item in products
        for step in item.steps
    ]
    params = {
        "run_id": run_id,
        "marketplace": outcome.marketplace,
        "token_cost": token_cost_usd,
        "names": records(outcome.names),
        "observations": Jsonb([observation_record(item) for item in products]),
        "points": records(points),
        "changes": Jsonb([change.model_dump(mode="json") for change in outcome.changes]),
        "deliveries": records([delivery_row(d) for d in outcome.deliveries]),
        "calls": api_call_records(calls),
        "missing": records([MissingRow(p.asin, p.marketplace) for p in outcome.missing]),
        "missing_unknown_after": outcome.missing_unknown_after,
    }
    # One statement is one transaction: the whole batch is written, or none of it.
    row = conn.execute(WRITE_BATCH_SQL, params).fetchone()
    assert row is not None
    return row[1]
