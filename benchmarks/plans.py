"""EXPLAIN (ANALYZE, BUFFERS) of the delivery path's statements after a measured pass, so a
fresh database and a year-old one can be compared by the pages each statement touched."""

import json
from datetime import UTC, datetime
from typing import Any

import psycopg

from bestseller_cli import outbox_store, story_store


def delivery_plans(url: str, run_id: int | None) -> dict[str, Any]:
    """Each statement run once on the run's alerts, in a transaction rolled back."""
    with psycopg.connect(url) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT n.id FROM notification_log n JOIN bestseller_changes c"
                " ON c.id = n.change_id WHERE c.run_id = %s ORDER BY n.id LIMIT 100",
                (run_id,),
            )
        ]
        categories = conn.execute(
            "SELECT marketplace, category_id FROM bestseller_changes WHERE run_id = %s"
            " ORDER BY id LIMIT 100",
            (run_id,),
        ).fetchall()
        now = datetime.now(UTC)
        statements = {
            "stories of the run's alerts (tell)": (
                story_store.TELL_SQL,
                {"ids": ids, "default_channel": "C0BENCH"},
            ),
            "claim + stories, awaiting in the batch's categories": (
                story_store.CLAIM_AND_TELL_SQL,
                {
                    "ids": ids,
                    "now": now,
                    "default_channel": "C0BENCH",
                    "everywhere": False,
                    "marketplaces": [marketplace for marketplace, _ in categories],
                    "categories": [category for _, category in categories],
                },
            ),
            "claim + stories, every awaiting message (sweep)": (
                story_store.CLAIM_AND_TELL_SQL,
                {
                    "ids": [],
                    "now": now,
                    "default_channel": "C0BENCH",
                    "everywhere": True,
                    "marketplaces": [],
                    "categories": [],
                },
            ),
            "due rows (sweep)": (
                outbox_store.DUE_SQL,
                {"now": now, "deliverable": list(outbox_store.DELIVERABLE)},
            ),
            "expire awaiting (sweep)": (story_store.EXPIRE_SQL, {"now": now}),
        }
        plans = {}
        for name, (sql, params) in statements.items():
            row = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params, prepare=False
            ).fetchone()
            conn.rollback()
            assert row is not None
            plan = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
            top = plan["Plan"]
            plans[name] = {
                "alerts": len(ids),
                "ms": round(plan["Execution Time"], 3),
                "planning_ms": round(plan.get("Planning Time", 0.0), 3),
                "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
                "scans": scans(top),
            }
    return plans


def scans(node: dict[str, Any]) -> list[str]:
    """Each scan of a table or index in the plan: rows it returned (all loops), its pages."""
    found = []
    if "Relation Name" in node or "Index Name" in node:
        rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        pages = node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0)
        target = node.get("Index Name") or node.get("Relation Name")
        found.append(f"{node['Node Type']} {target}: {rows:g} rows, {pages} pages")
    for child in node.get("Plans", []):
        found += scans(child)
    return found
