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
                "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
            }
    return plans
