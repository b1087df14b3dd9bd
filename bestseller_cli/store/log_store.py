"""The logs: Keepa API calls and their token cost, and errors, each text redacted again on
the way in.

Owns api_usage_log and error_log (check_store's batch write also logs its batch's calls, in
the same statement as the rest of the batch).
"""

import json
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from bestseller_cli.models import ApiCall, ErrorEvent
from bestseller_cli.redact import redact

API_CALL_FIELDS = ", ".join(ApiCall.model_fields)
# Calls as JSON (api_call_records), typed by the table itself; also one part of
# check_store's batch write. Parameters: run_id, token_cost (USD per token), calls.
INSERT_API_CALLS_SQL = f"""
    INSERT INTO api_usage_log ({API_CALL_FIELDS}, run_id, estimated_cost_usd)
    SELECT {API_CALL_FIELDS}, %(run_id)s, COALESCE(tokens_consumed, 0) * %(token_cost)s
    FROM jsonb_populate_recordset(NULL::api_usage_log, %(calls)s)
"""


def api_call_records(calls: list[ApiCall]) -> Jsonb:
    return Jsonb([call.model_dump(mode="json") for call in calls])


def record_api_calls(
    conn: psycopg.Connection,
    calls: list[ApiCall],
    *,
    run_id: int | None,
    token_cost_usd: float,
) -> None:
    if not calls:
        return
    conn.execute(
        INSERT_API_CALLS_SQL,
        {"run_id": run_id, "token_cost": token_cost_usd, "calls": api_call_records(calls)},
    )


def record_errors(
    conn: psycopg.Connection, errors: list[ErrorEvent], *, run_id: int | None
) -> None:
    """Write errors; every text is redacted again on the way in, as a last line of defence."""
    if not errors:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO error_log (run_id, source, kind, message, asin, marketplace, context)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    error.source,
                    error.kind,
                    redact(error.message),
                    error.asin,
                    error.marketplace,
                    redact(json.dumps(error.context)),
                )
                for error in errors
            ],
        )


def tokens_spent(conn: psycopg.Connection, *, since: datetime) -> tuple[int, int | None]:
    """Keepa tokens this tool spent since `since` (every endpoint), and the refill rate
    (tokens per minute) Keepa last reported, if it ever did."""
    row = conn.execute(
        "SELECT (SELECT COALESCE(sum(tokens_consumed), 0) FROM api_usage_log"
        "        WHERE called_at >= %(since)s),"
        "       (SELECT refill_rate FROM api_usage_log WHERE refill_rate IS NOT NULL"
        "        ORDER BY called_at DESC LIMIT 1)",
        {"since": since},
    ).fetchone()
    assert row is not None
    return int(row[0]), row[1]
