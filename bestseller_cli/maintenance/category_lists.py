"""`categories watch --verify`: ask Keepa for each category's best seller list once (50
tokens a list, nothing for a category without one), so an unknown or empty category is an
error before it is watched. The calls go to api_usage_log, and count in the share."""

import psycopg

from bestseller_cli.config import Settings
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ApiCall, BestSellerList
from bestseller_cli.store import log_store


def ask_lists(
    settings: Settings, conn: psycopg.Connection, *, marketplace: str, category_ids: list[int]
) -> dict[int, BestSellerList]:
    """Each category's list as Keepa has it now."""
    calls: list[ApiCall] = []
    found: dict[int, BestSellerList] = {}
    try:
        with KeepaClient.from_settings(settings, on_call=calls.append) as keepa:
            for category in category_ids:
                found[category] = keepa.best_seller_list(category, marketplace=marketplace)
    finally:
        with conn.transaction():
            log_store.record_api_calls(
                conn, calls, run_id=None, token_cost_usd=settings.keepa_token_cost_usd
            )
    return found
