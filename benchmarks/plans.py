"""EXPLAIN (ANALYZE, BUFFERS) of the delivery path's statements after a measured pass, so a
fresh database and a year-old one can be compared by the pages each statement touched."""

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from bestseller_cli.store import outbox_store, story_store

CHANNEL = "C0BENCH"


class Recorder:
    """Stands in for the connection while a store function runs, to learn the statement and
    parameters it sends (so the plans follow the stores' own parameters)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    @classmethod
    def statement(cls, call: Callable[[Any], object]) -> tuple[str, Any]:
        recorder = cls()
        call(recorder)
        (sent,) = recorder.sent
        return sent

    def execute(self, sql: str, params: Any = None, **options: Any) -> "Recorder":
        self.sent.append((sql, params))
        return self

    def cursor(self, **options: Any) -> "Recorder":
        """Stores that read rows by name open a cursor: the same recorder."""
        return self

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def fetchall(self) -> list[Any]:
        return []

    def fetchone(self) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def commit(self) -> None:
        pass


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
        batch = [(marketplace, category) for marketplace, category in categories]  # tuples
        calls = {
            "stories of the run's alerts (tell)": lambda conn: story_store.tell(
                conn, ids, default_channel=CHANNEL
            ),
            "claim + stories, awaiting in the batch's categories": (
                lambda conn: story_store.claim_and_tell(
                    conn, ids=ids, categories=batch, default_channel=CHANNEL, now=now, token="plans"
                )
            ),
            "claim + stories, every awaiting message (sweep)": (
                lambda conn: story_store.claim_and_tell(
                    conn, ids=[], categories=None, default_channel=CHANNEL, now=now, token="plans"
                )
            ),
            "due rows (sweep)": lambda conn: outbox_store.due(conn, now=now),
            "expire awaiting (sweep)": lambda conn: story_store.expire_awaiting(conn, now=now),
        }
        statements = {name: Recorder.statement(call) for name, call in calls.items()}
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
