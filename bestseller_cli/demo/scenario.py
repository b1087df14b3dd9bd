"""The demo's made-up day: a small watch list of one client's products and two competitors',
and their ranks hour by hour, with a gain, a loss, a flip back and forth, a competitor taking
#1 and a product closing in on it; and one watched category, Herb Scissors, where a product
nobody tracks takes #1 from the competitor. Generated here: nothing recorded from anyone ships.

`product_json` answers as Keepa's /product does (the fields `keepa/payload.py` reads), and
`best_seller_json` as its /bestsellers does, so the pass that reads them is the real one.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bestseller_cli.keepa.payload import KEEPA_EPOCH_OFFSET_MINUTES

CLIENT = "acme"
CHANNEL = "C0DEMO0001"
TOP_N = 3  # the client hears of its products closing in on #1 (ranks 2..3)
HOURS = 24
NO_PASSES = range(12, 14)  # two hours no pass ran: the charts show them as not observed

KITCHEN, GARLIC, TONGS, SCISSORS = 1055398, 289814, 289848, 15136301
CATEGORY_NAMES = {
    KITCHEN: "Kitchen & Dining",
    GARLIC: "Garlic Presses",
    TONGS: "Tongs",
    SCISSORS: "Herb Scissors",
}


@dataclass(frozen=True)
class DemoProduct:
    asin: str
    title: str
    own: bool
    category: int  # the sub-category its story is in
    ranks: dict[int, int]  # hour -> rank in `category` from that hour on
    main_rank: int  # around this in Kitchen & Dining


PRODUCTS = [
    # Hours into the day: takes #1 from the rival at 6, the rival takes it back at 16.
    DemoProduct(
        "B0DEMOAC01",
        "Acme Garlic Press, Stainless Steel",
        True,
        GARLIC,
        {0: 3, 3: 2, 6: 1, 16: 2},
        420,
    ),
    DemoProduct("B0DEMORV01", "Rival Garlic Press Pro", False, GARLIC, {0: 1, 6: 2, 16: 1}, 380),
    # Gains #1 at 9, loses it at 10 (a flip), gains it again at 19.
    DemoProduct(
        "B0DEMOAC02",
        "Acme Silicone Kitchen Tongs, 2-Pack",
        True,
        TONGS,
        {0: 2, 9: 1, 10: 2, 19: 1},
        1250,
    ),
    # Climbs into the top 3 at 13 (seen at 14): "closing in on #1" behind the rival's scissors.
    DemoProduct(
        "B0DEMOAC03",
        "Acme Herb Scissors with 5 Blades",
        True,
        SCISSORS,
        {0: 14, 5: 9, 9: 6, 13: 3, 21: 2},
        2900,
    ),
    # Holds #1 until a product nobody tracks takes it at 14 (NEWCOMER).
    DemoProduct("B0DEMORV02", "Rival Herb Scissors", False, SCISSORS, {0: 1, 14: 2, 21: 3}, 2100),
]
# Nobody tracks it: the watched category's list shows it taking #1 at 14, and the pass names
# it by asking /product once.
NEWCOMER = DemoProduct(
    "B0DEMONEW1",
    "Snipwell Herb Scissors, 7 Stainless Blades",
    False,
    SCISSORS,
    {0: 40, 14: 1},
    1700,
)
# The category the client watches (`categories watch`), at the default interval.
WATCHED = SCISSORS


def rank_at(product: DemoProduct, hour: int) -> int:
    return product.ranks[max(h for h in product.ranks if h <= hour)]


def main_rank_at(product: DemoProduct, hour: int) -> int:
    """A main rank that wanders a little every hour (the same every run)."""
    wobble = random.Random(f"{product.asin}-{hour}").uniform(-0.12, 0.12)
    return max(1, round(product.main_rank * (1 + wobble)))


def keepa_minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60) - KEEPA_EPOCH_OFFSET_MINUTES


def product_json(product: DemoProduct, *, hour: int, at: datetime) -> dict[str, object]:
    """One product as Keepa's /product answers it at `at`: current ranks, names, title."""
    minute = keepa_minute(at)
    return {
        "asin": product.asin,
        "productType": 0,
        "title": product.title,
        "brand": "Acme" if product.own else "Rival",
        "lastUpdate": minute,
        "salesRankReference": KITCHEN,
        "rootCategory": KITCHEN,
        "categoryTree": [
            {"catId": KITCHEN, "name": CATEGORY_NAMES[KITCHEN]},
            {"catId": product.category, "name": CATEGORY_NAMES[product.category]},
        ],
        "salesRanks": {
            str(KITCHEN): [minute, main_rank_at(product, hour)],
            str(product.category): [minute, rank_at(product, hour)],
        },
    }


def best_seller_json(category: int, *, hour: int, at: datetime) -> dict[str, object]:
    """Keepa's /bestsellers answer for the category at `at`: its products by rank in it,
    as the list Keepa rebuilt at the top of the hour (50 tokens)."""
    listed = sorted(
        (product for product in (*PRODUCTS, NEWCOMER) if product.category == category),
        key=lambda product: rank_at(product, hour),
    )
    if not listed:
        return {"tokensConsumed": 0}
    rebuilt = at.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    return {
        "tokensConsumed": 50,
        "bestSellersList": {
            "domainId": 1,
            "lastUpdate": keepa_minute(rebuilt),
            "categoryId": category,
            "asinList": [product.asin for product in listed],
        },
    }
