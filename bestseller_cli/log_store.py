"""The logs: Keepa API calls and their token cost, and errors, each text redacted again on
the way in.

Owns api_usage_log and error_log (check_store's batch write also logs its batch's calls, in
the same statement as the rest of the batch).
"""

import json

import psycopg

from bestseller_cli.models import ApiCall, ErrorEvent
from bestseller_cli.redact import redact


def record_api_calls(
    conn: psycopg.Connection,
    calls: list[ApiCall],
    *,
    run_id: int | None,
    token_cost_usd: float,
) -> None:
    if not calls:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO api_usage_log (called_at, run_id, endpoint, marketplace, asin_count,"
            " http_status, tokens_consumed, tokens_left, refill_in_ms, refill_rate, duration_ms,"
            " estimated_cost_usd) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    call.called_at,
                    run_id,
                    call.endpoint,
                    call.marketplace,
                    call.asin_count,
                    call.http_status,
                    call.tokens_consumed,
                    call.tokens_left,
                    call.refill_in_ms,
                    call.refill_rate,
                    call.duration_ms,
                    (call.tokens_consumed or 0) * token_cost_usd,
                )
                for call in calls
            ],
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
