"""What to tell the user about products Keepa has no ranks for: a variation parent (its
children carry the ranks: track those) or an invalid ASIN. Keepa's productType decides."""

from collections.abc import Sequence

from bestseller_cli.models import INVALID, VARIATION_PARENT, ProductSnapshot

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
