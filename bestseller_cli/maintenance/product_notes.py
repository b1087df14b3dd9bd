"""Notes for `asins add` on products Keepa has no ranks for, from Keepa now (one token per
ASIN) or from what the last pass recorded; the wording is rules.product_kinds'."""

import psycopg

from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ApiCall, ProductSnapshot
from bestseller_cli.rules.product_kinds import kind_note, snapshot_note
from bestseller_cli.store import asin_store, log_store


def look_up(
    settings: Settings, conn: psycopg.Connection, *, asins: list[str], marketplace: str
) -> list[ProductSnapshot]:
    """Ask Keepa what each ASIN is (one token per ASIN); the calls go to api_usage_log."""
    calls: list[ApiCall] = []
    found: list[ProductSnapshot] = []
    try:
        with KeepaClient.from_settings(settings, on_call=calls.append) as keepa:
            for _, snapshots in keepa.batches(asins, marketplace=marketplace):
                found += snapshots
    finally:
        with conn.transaction():
            log_store.record_api_calls(
                conn, calls, run_id=None, token_cost_usd=settings.keepa_token_cost_usd
            )
    return found


def notes_for(
    settings: Settings,
    conn: psycopg.Connection,
    *,
    asins: list[str],
    marketplace: str,
    verify: bool,
) -> list[str]:
    """Variation parents and invalid ASINs among `asins`: as Keepa says now (`verify`, one
    token each), else as the last pass recorded."""
    if not verify:
        known = asin_store.without_ranks(conn, asins=asins, marketplace=marketplace)
        notes = [kind_note(k.asin, k.marketplace, k.product_type, k.variation_asins) for k in known]
        return [note for note in notes if note]
    try:
        snapshots = look_up(settings, conn, asins=asins, marketplace=marketplace)
    except KeepaError as exc:
        return [f"could not ask Keepa what these ASINs are: {exc}"]
    return [note for note in map(snapshot_note, snapshots) if note]
