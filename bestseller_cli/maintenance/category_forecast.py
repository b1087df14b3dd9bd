"""`doctor`'s forecast line for watched categories, next to the product checks': the tokens
per hour their lists need at their intervals (`WatchedCategory.tokens_per_day`), what they
may spend (CATEGORY_PLAN_SHARE of the plan, and never what the product checks at their
ceiling need), and whether they stretch their interval because of it. Categories stretch
first when the plan is short: the product checks keep their ceiling.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from bestseller_cli.config import Settings
from bestseller_cli.maintenance.finding import Finding
from bestseller_cli.rules import schedule
from bestseller_cli.rules.category_watch import WatchedCategory


@dataclass(frozen=True)
class CategoryOutlook:
    """The watched categories against the plan, per hour."""

    watched: int
    intervals: tuple[float, ...]  # the distinct intervals, in hours, shortest first
    tokens_per_hour: float  # their lists, each at its own interval
    share: float  # CATEGORY_PLAN_SHARE
    plan_per_hour: float | None  # None: the plan is not known
    ceiling_tokens_per_hour: float = 0.0  # what the product checks at their ceiling need

    @property
    def share_per_hour(self) -> float | None:
        """What the categories may spend: their share of the plan, at most what the plan
        leaves after the product checks at their ceiling. None: the plan is not known."""
        if self.plan_per_hour is None:
            return None
        left = max(self.plan_per_hour - self.ceiling_tokens_per_hour, 0.0)
        return min(self.share * self.plan_per_hour, left)

    @property
    def limited_by_products(self) -> bool:
        """The product checks at their ceiling leave less than the share."""
        return self.plan_per_hour is not None and (
            self.plan_per_hour - self.ceiling_tokens_per_hour < self.share * self.plan_per_hour
        )

    @property
    def stretch(self) -> float | None:
        """How many times their intervals stretch (more than 1), or None when they fit;
        infinite when nothing is left for them."""
        available = self.share_per_hour
        if available is None or self.tokens_per_hour <= available:
            return None
        return self.tokens_per_hour / available if available else float("inf")


def category_outlook(
    watched: Sequence[WatchedCategory], *, share: float, forecast: schedule.Forecast
) -> CategoryOutlook:
    return CategoryOutlook(
        watched=len(watched),
        intervals=tuple(sorted({entry.every_hours for entry in watched})),
        tokens_per_hour=sum(entry.tokens_per_day() for entry in watched) / 24,
        share=share,
        plan_per_hour=forecast.plan_per_hour,
        ceiling_tokens_per_hour=forecast.ceiling_tokens_per_hour,
    )


def every(intervals: Sequence[float], factor: float = 1.0) -> str:
    """`every 4 h`, `every 2 h to 8 h`."""
    shown = [f"{hours * factor:,.1f}".removesuffix(".0") + " h" for hours in intervals]
    return f"every {shown[0]}" + (f" to {shown[-1]}" if len(shown) > 1 else "")


def describe(outlook: CategoryOutlook) -> str:
    """`2 categories watched, every 4 h: their lists need 25 tokens/h; their share is 120
    (CATEGORY_PLAN_SHARE=0.1 of 1,200)`."""
    need = (
        f"{outlook.watched:,} categories watched, {every(outlook.intervals)}: their lists need"
        f" {outlook.tokens_per_hour:,.0f} tokens/h"
    )
    available = outlook.share_per_hour
    if available is None or outlook.plan_per_hour is None:
        return f"{need}; the plan is unknown (CATEGORY_PLAN_SHARE={outlook.share:g} of it)"
    share = (
        f"CATEGORY_PLAN_SHARE={outlook.share:g} of {outlook.plan_per_hour:,.0f}"
        if not outlook.limited_by_products
        else f"what the product checks at their ceiling leave of {outlook.plan_per_hour:,.0f}"
    )
    return f"{need}; their share is {available:,.0f} ({share})"


def category_budget(
    watched: Sequence[WatchedCategory], *, settings: Settings, forecast: schedule.Forecast
) -> list[Finding]:
    """The forecast row for watched categories (none when none is watched): yellow when
    they stretch, with how much."""
    if not watched:
        return []
    outlook = category_outlook(watched, share=settings.category_plan_share, forecast=forecast)
    detail = describe(outlook)
    stretch = outlook.stretch
    if stretch is None:
        return [Finding("Keepa budget: categories", "ok", detail)]
    if stretch == float("inf"):
        detail += "; no list is fetched: the product checks come first"
    else:
        detail += (
            f"; they stretch about {stretch:.1f}x, to {every(outlook.intervals, stretch)}:"
            " a new #1 is seen later, the product checks keep their ceiling"
        )
    return [Finding("Keepa budget: categories", "warn", detail)]
