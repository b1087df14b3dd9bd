"""One batch of a pass, read and decided: its stored state and cached names in one round trip,
names looked up for its categories where needed, then the pure diff (rules/batch_diff.py)
that returns the `BatchOutcome` the pass writes in one store call."""

from bestseller_cli.check.category_names import NameBudget, name_batch, with_names
from bestseller_cli.check.context import Pass
from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ProductSnapshot
from bestseller_cli.rules.batch_diff import BatchOutcome, badge_categories, diff_batch
from bestseller_cli.store import check_store


def process_batch(
    run: Pass,
    marketplace: str,
    requested: list[str],
    products: list[ProductSnapshot],
    *,
    keepa: KeepaClient,
    names: NameBudget,
) -> BatchOutcome:
    """Read, name and diff a batch: one read, /category lookups if needed, no write."""
    observed_at = run.hooks.clock()
    categories = sorted({c for snapshot in products for c in snapshot.category_ranks})
    known = check_store.load_batch(
        run.conn, marketplace=marketplace, asins=requested, category_ids=categories
    )
    named = name_batch(
        keepa,
        marketplace=marketplace,
        snapshots=products,
        cached=known.names,
        first=badge_categories(products, known.asins),
        budget=names,
        now=observed_at,
        on_error=run.log.record_error,
    )
    return diff_batch(
        marketplace,
        [
            snapshot if snapshot.missing else with_names(snapshot, named.names)
            for snapshot in products
        ],
        known.asins,
        names=named.rows,
        observed_at=observed_at,
        given=run.given,
    )
