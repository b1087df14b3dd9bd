"""What to tell the user about products Keepa has no ranks for: a variation parent (its
children carry the ranks: track those) or an invalid ASIN. Keepa's productType decides."""

from collections.abc import Sequence

import psycopg

from bestseller_cli import asin_store, log_store
from bestseller_cli.config import Settings
from bestseller_cli.errors import KeepaError
from bestseller_cli.keepa import KeepaClient
from bestseller_cli.models import INVALID, VARIATION_PARENT, ApiCall, ProductSnapshot

CHILDREN_SHOWN = 10


def kind_note(
    asin: str, marketplace: str, product_type: int | None, children: Sequence[str]
) -> str | None:
    """One line for a variation parent or an invalid ASIN; None for a product with ranks."""
    where = f"{asin} ({marketplace})"
    if product_type == VARIATION_PARENT:
        shown = ", ".join(children[:CHILDREN_SHOWN]) or "none listed"
        more = len(children) - CHILDREN_SHOWN
        shown += f" and {more} more" if more > 0 else ""
        return (
            f"{where} is a variation parent: Keepa has no ranks for it. Its children"
            f" (Keepa's variationCSV) carry the ranks; track them instead: {shown}"
        )
    if product_type == INVALID:
        return (
            f"{where} is invalid on Keepa (productType 4: unknown or deprecated ASIN):"
            " it has no data; check the ASIN and the marketplace"
        )
    return None


def snapshot_note(snapshot: ProductSnapshot) -> str | None:
    return kind_note(
        snapshot.asin, snapshot.marketplace, snapshot.product_type, snapshot.variation_asins
    )


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
