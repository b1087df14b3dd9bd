"""When each watched ASIN is checked next, as pure functions.

Keepa charges one token per product looked up, whatever it returns, and every answer
carries the rank series since a given day: a check every N hours that asks for the last N
hours sees every rank point Keepa recorded in between. So checking less often makes a
change late, never lost.
"""

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

DAY = timedelta(days=1)
# Keepa's clock and ours may differ a little: the window reaches this much further back.
CLOCK_MARGIN = timedelta(hours=1)


def history_days(since: Iterable[datetime | None], *, now: datetime, least: int) -> int:
    """The `days` to ask Keepa for so that every series reaches back past the oldest of
    `since` (the checks before; None: never checked), at least `least`."""
    oldest = min((moment for moment in since if moment is not None), default=None)
    if oldest is None:
        return least
    return max(least, math.ceil((now - oldest + CLOCK_MARGIN) / DAY))
