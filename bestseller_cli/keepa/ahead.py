"""Keepa requests kept in flight while the batch before them is written and alerted.

A Keepa request takes 1-3 s; writing and alerting a batch takes a fraction of that. The
next requests go out before the current batch is processed, KEEPA_REQUESTS_AHEAD of them
(0: one request at a time), and only while the tokens Keepa last reported cover them. Once
a request fails or the pass must stop, no new one is made, and every answer already paid
for is still handed over, so no batch is fetched (and paid for) twice.
"""

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from bestseller_cli.keepa.client import KeepaClient
from bestseller_cli.models import ProductSnapshot


@dataclass(frozen=True)
class Fetched:
    """One batch's answer, or why it has none."""

    asins: list[str]
    products: list[ProductSnapshot] | None
    error: Exception | None = None


def fetch_ahead(
    keepa: KeepaClient,
    *,
    marketplace: str,
    asins: list[str],
    batch_size: int,
    ahead: int,
    may_request: Callable[[], bool],
    tokens_left: Callable[[], int | None],
    days_for: Callable[[list[str]], int | None] = lambda batch: None,
    live: bool = False,
) -> Iterator[Fetched]:
    """Yield the batches of `asins` in order. `may_request()` is asked before each request
    (the deadline); once it says no, only answers already requested are yielded.
    `days_for(batch)`: how far back the batch's rank series must reach. `live`: every
    request asks for live data (`update=0`, up to 2 tokens a product)."""
    per_asin = 2 if live else 1
    wanted = list(dict.fromkeys(asins))
    batches = [wanted[start : start + batch_size] for start in range(0, len(wanted), batch_size)]
    pending: deque[tuple[list[str], Future[list[ProductSnapshot]]]] = deque()
    position, stopped = 0, False

    def request(limit: int, *, prepaid_only: bool) -> None:
        nonlocal position, stopped
        while not stopped and position < len(batches) and len(pending) < limit:
            batch = batches[position]
            if prepaid_only and not affordable(len(batch) * per_asin):
                return  # Keepa would answer 429: wait for the answers in flight first
            if not may_request():
                stopped = True
                return
            future = pool.submit(
                keepa.fetch, batch, marketplace=marketplace, days=days_for(batch), live=live
            )
            pending.append((batch, future))
            position += 1

    def affordable(tokens: int) -> bool:
        left = tokens_left()
        return left is None or left - sum(len(batch) for batch, _ in pending) * per_asin >= tokens

    with ThreadPoolExecutor(max_workers=max(ahead, 1), thread_name_prefix="keepa") as pool:
        while True:
            request(1, prepaid_only=False)  # the next batch, whatever the tokens say
            if not pending:
                return
            batch, future = pending.popleft()
            try:
                products = future.result()
            except Exception as exc:  # handed to the pass, which decides what it means
                stopped = True
                yield Fetched(asins=batch, products=None, error=exc)
                continue
            request(ahead, prepaid_only=True)  # out before this batch is processed
            yield Fetched(asins=batch, products=products)
