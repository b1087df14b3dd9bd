"""doctor's forecast for watched categories: their need against their share of the plan,
which the product checks at their ceiling come before."""

from datetime import timedelta

from bestseller_cli.maintenance.category_forecast import CategoryOutlook, category_outlook
from bestseller_cli.rules.category_watch import WatchedCategory
from bestseller_cli.rules.schedule import Forecast


def outlook(**fields: object) -> CategoryOutlook:
    given: dict = {"watched": 1, "intervals": (4.0,), "tokens_per_hour": 12.5, "share": 0.1}
    return CategoryOutlook(**(given | fields))


def test_a_measured_list_cost_and_each_interval_make_the_need() -> None:
    watched = [
        WatchedCategory("com", 1, every_hours=4),  # 6 lists of 50 assumed
        WatchedCategory("com", 2, every_hours=1, tokens_per_list=30),  # 24 lists of 30
        WatchedCategory("de", 3, every_hours=4),
    ]
    products = Forecast(
        per_interval=[], watched=0, tokens_per_hour=0, ceiling_tokens_per_hour=0,
        plan_per_hour=1_200, longest_wait=None, ceiling=timedelta(hours=24),
        run=timedelta(minutes=15),
    )  # fmt: skip
    found = category_outlook(watched, share=0.1, forecast=products)
    assert found.tokens_per_hour == (300 + 720 + 300) / 24
    assert found.intervals == (1.0, 4.0) and found.share_per_hour == 120
    assert found.stretch is None


def test_categories_stretch_when_their_need_passes_the_share() -> None:
    assert outlook(plan_per_hour=100.0).stretch == 1.25  # 12.5 in a share of 10


def test_the_product_checks_at_their_ceiling_come_before_the_share() -> None:
    short = outlook(plan_per_hour=100.0, ceiling_tokens_per_hour=95.0)
    assert short.share_per_hour == 5 and short.limited_by_products
    assert short.stretch == 2.5
    assert outlook(plan_per_hour=100.0, ceiling_tokens_per_hour=120.0).stretch == float("inf")


def test_with_no_share_or_no_known_plan() -> None:
    assert outlook(plan_per_hour=1_200.0, share=0.0).stretch == float("inf")
    assert outlook(plan_per_hour=None).stretch is None
