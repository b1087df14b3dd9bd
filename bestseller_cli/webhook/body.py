"""The webhook body: one JSON object per alert, schema `bestseller.alert.v1` (README,
"Webhooks"). Pure functions of `Change`; the text is as Keepa sent it (JSON escapes it)."""

import json
from datetime import UTC, datetime
from typing import Any

from bestseller_cli.kinds import kind_of
from bestseller_cli.models import Change

SCHEMA = "bestseller.alert.v1"
ALERT, UPDATED, NOTICE, PING = "alert", "alert.updated", "notice", "ping"


def amazon_link(asin: str, marketplace: str) -> str:
    return f"https://www.amazon.{marketplace}/dp/{asin}"


def iso(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def alert_body(change: Change, *, event: str = ALERT, story: tuple[str, ...] = ()) -> bytes:
    """One alert: what changed, where, the ranks, who holds #1 after it (when known: the
    product itself once it ranks #1), when it happened and when we saw it, and a link."""
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "type": event,
        "kind": str(change.kind),
        "label": kind_of(change.kind).label,
        "asin": change.asin,
        "marketplace": change.marketplace,
        "title": change.title,
        "category": {"id": change.category_id, "name": change.category_name},
        "ranks": {
            "before": change.rank_before,
            "after": change.rank_after,
            "main": change.main_rank,
        },
        "holder": {"asin": change.asin} if change.rank_after == 1 else None,
        "changed_at": iso(change.changed_at),
        "detected_at": iso(change.detected_at),
        "link": amazon_link(change.asin, change.marketplace),
        "story": list(story),
    }
    return encode(record)


def notice_body(text: str, status: str | None) -> bytes:
    return encode({"schema": SCHEMA, "type": NOTICE, "text": text, "status": status})


def ping_body(now: datetime) -> bytes:
    return encode({"schema": SCHEMA, "type": PING, "sent_at": iso(now)})


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
