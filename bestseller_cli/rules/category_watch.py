"""Category watch, pure: which due categories a run fetches within its share of the plan,
when each is checked next, and what a new best seller list changed (a new #1, products
entering and leaving the top N), with the holders' stretches it closes and opens.

A list is Keepa's `/bestsellers?sublist=1`: one category's products by sub-category rank,
rebuilt by Keepa about hourly and cached up to an hour, 50 tokens a list (0 for a category
without one).
"""

from dataclasses import dataclass
from datetime import datetime

# What a list is assumed to cost until Keepa has reported one (its docs: 50 tokens).
ASSUMED_LIST_COST = 50
# The default interval: one list each 4 h is 6 lists, 300 tokens a day per category, about
# what 12 products cost at the hourly ceiling; Keepa rebuilds lists about hourly.
DEFAULT_EVERY_HOURS = 4.0
# Keepa caches a list for up to an hour: asking more often only pays for the same list.
MIN_EVERY_HOURS = 1.0
MAX_TOP_N = 10


@dataclass(frozen=True)
class WatchedCategory:
    """One row of watched_categories: its fields are the table's columns (`client` is the
    client's name, read with it)."""

    marketplace: str
    category_id: int
    client_id: int | None = None
    every_hours: float = DEFAULT_EVERY_HOURS
    top_n: int | None = None
    name: str | None = None
    added_at: datetime | None = None
    last_checked_at: datetime | None = None
    list_updated_at: datetime | None = None
    next_check_at: datetime | None = None  # None: due at the next run
    empty_answers: int = 0
    top_asins: tuple[str, ...] = ()  # the head of the last list, best first
    tokens_per_list: int | None = None  # the last list's tokensConsumed; None: not measured
    id: int | None = None
    client: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "top_asins", tuple(self.top_asins or ()))

    @property
    def holder(self) -> str | None:
        """The #1 of the last list with one."""
        return self.top_asins[0] if self.top_asins else None

    @property
    def list_cost(self) -> int:
        """What its next list is expected to cost."""
        return self.tokens_per_list if self.tokens_per_list else ASSUMED_LIST_COST

    def tokens_per_day(self, every_hours: float | None = None) -> float:
        """Lists a day at the interval (its own by default), times what a list costs."""
        return 24 / (every_hours or self.every_hours) * self.list_cost

    def kept(self) -> int:
        """How many of a list's ASINs to keep: the top N, at least the #1."""
        return max(1, self.top_n or 1)
