"""A batch's reads are bounded by the batch, not by the watch list: plan shapes, read from
EXPLAIN (ANALYZE) on the real PostgreSQL (rows each scan returned, not time)."""

import json
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from bestseller_cli.store import check_store

WATCHED = 10_000
BATCH = 100


def scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def state_rows_read(conn: psycopg.Connection, asins: list[str]) -> int:
    row = conn.execute(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + check_store.LOAD_BATCH_SQL,
        {"market": "com", "asins": asins, "categories": [1]},
    ).fetchone()
    assert row is not None
    plan = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
    return sum(
        scan["Actual Rows"] * scan["Actual Loops"]
        for scan in scans(plan["Plan"])
        if scan["Relation Name"] == "asin_current_state"
    )


@pytest.mark.parametrize("statistics", ["fresh", "taken while the table was empty"])
def test_loading_a_batch_reads_the_state_of_its_own_asins_only(
    conn: psycopg.Connection, statistics: str
) -> None:
    conn.execute(
        "INSERT INTO tracked_asins (asin, marketplace)"
        " SELECT 'B' || lpad(n::text, 9, '0'), 'com' FROM generate_series(1, %s) AS n",
        (WATCHED,),
    )
    if statistics != "fresh":
        conn.execute("ANALYZE")
    conn.execute(
        "INSERT INTO asin_current_state (asin, marketplace, available, title, category_ranks,"
        " badges, baseline_at, first_seen_at, last_checked_at)"
        " SELECT asin, marketplace, true, repeat('a product title ', 8), %s, '{}', now(),"
        " now(), now() FROM tracked_asins",
        (Jsonb({"20000001": {"name": None, "rank": 5}}),),
    )
    if statistics == "fresh":
        conn.execute("ANALYZE")
    batch = [f"B{n:09d}" for n in range(5_001, 5_001 + BATCH)]
    assert state_rows_read(conn, batch) <= BATCH
