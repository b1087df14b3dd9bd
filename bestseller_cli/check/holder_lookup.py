"""Who took #1 when no tracked product did: the head of Keepa's best seller list of the
category (as of the list's own update time), asked once per category per pass, within a
token budget; a category without a list answers empty and costs nothing. Optional
(KEEPA_BESTSELLERS_LOOKUP); without it, or past the budget, such a loss says "not known yet".
"""

from dataclasses import dataclass, field

import psycopg

from bestseller_cli.errors import KeepaAuthError, KeepaError
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import BestSellerList, ErrorEvent
from bestseller_cli.store import lookup_store

# What a /bestsellers request is assumed to cost until one has been measured: Keepa's docs
# say 50 tokens. Afterwards the last call's `tokensConsumed` is the estimate.
ASSUMED_LOOKUP_COST = 50


@dataclass
class LookupOutcome:
    looked_up: int = 0
    over_budget: int = 0  # categories left with the holder unknown
    errors: list[ErrorEvent] = field(default_factory=list)


def look_up_holders(
    keepa: KeepaClient, conn: psycopg.Connection, *, run_id: int, budget: int
) -> LookupOutcome:
    """Look up and store the list head of each category this run lost #1 in unexplained."""
    work = lookup_store.holder_lookup_work(conn, run_id=run_id)
    outcome = LookupOutcome()
    spent, estimate = work.spent_this_run, work.last_cost or ASSUMED_LOOKUP_COST
    found: list[tuple[str, BestSellerList]] = []
    for index, (marketplace, category_id) in enumerate(work.categories):
        if spent + estimate > budget:
            outcome.over_budget = len(work.categories) - index
            break
        try:
            listing = keepa.best_seller_list(category_id, marketplace=marketplace)
        except KeepaAuthError:
            raise
        except KeepaError as exc:
            # Enrichment only: the alerts go out without it, saying the holder is unknown.
            message = f"best seller list of category {category_id}: {exc}"
            failure = ErrorEvent(
                source="keepa", kind="bestsellers_failed", message=message, marketplace=marketplace
            )
            outcome.errors.append(failure)
            break
        cost = listing.tokens_consumed if listing.tokens_consumed is not None else estimate
        spent, estimate = spent + cost, cost or estimate
        found.append((marketplace, listing))
    outcome.looked_up = len(found)
    if found:
        lookup_store.record_best_seller_lists(conn, found, run_id=run_id)
    return outcome
