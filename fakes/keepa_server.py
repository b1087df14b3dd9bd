"""A fake Keepa over real HTTP on 127.0.0.1, for tests that run `bestseller` in a child
process (pytest-httpx only reaches this process), fault drills and benchmarks.

The "world" maps (marketplace, ASIN) to its current category ranks; a test changes the
world between passes. Answers are in Keepa's JSON format (fakes/keepa_payloads.py), as
untidy as Keepa's (fakes/KEEPA_SHAPES.md): categoryTree leaves most ranked categories out,
so names come from /category; `days` trims histories as Keepa does; extra parameters cost
extra tokens; unknown ASINs come back as productType 4.
"""

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from fakes import SHUTDOWN_POLL_SECONDS
from fakes.keepa_payloads import (
    Ranks,
    best_sellers,
    categories_response,
    category_name,
    envelope,
    not_enough_tokens,
    product,
    trim_to_days,
    unknown_product,
)

DOMAINS = {1: "com", 2: "co.uk", 3: "de", 4: "fr", 5: "co.jp", 6: "ca", 8: "it", 9: "es"}


@dataclass
class FakeKeepa:
    url: str = ""
    world: dict[tuple[str, str], dict[int, Ranks]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    # ASIN -> extra keyword arguments of keepa_payloads.product (tree, last_update, ...). A
    # `last_update` set here is Keepa's cache: answered as is, until a request asks for live
    # data (update=0), which refreshes it to now.
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (marketplace, ASIN) -> a raw product served as is (variation parents, ebooks, ...)
    raw_products: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # category ids /category does not know (absent from its answer)
    unknown_categories: set[int] = field(default_factory=set)
    category_cost: int = 1  # tokens per /category request (Keepa's docs: 1, up to 10 ids)
    gzip_without_header: bool = False  # the body is gzip, the Content-Encoding header missing
    # (marketplace, category) -> Keepa's daily best seller list, best first
    best_seller_lists: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    best_sellers_cost: int = 50
    lists_updated: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(hours=9))
    # (marketplace, category) -> that list's lastUpdate, when not `lists_updated`
    list_updates: dict[tuple[str, int], datetime] = field(default_factory=dict)
    # Keepa refuses a paid request once the tokens are spent: HTTP 429 NOT_ENOUGH_TOKEN,
    # with refillIn (ms). Off by default: most tests let the balance go below zero.
    refuse_when_spent: bool = False
    refill_in_ms: int = 60_000
    latency_seconds: float = 0.0
    tokens_left: int = 100_000
    fail_next: list[int] = field(default_factory=list)
    omitted: set[str] = field(default_factory=set)  # ASINs left out of /product answers
    failing_endpoints: dict[str, int] = field(default_factory=dict)  # "bestsellers" -> 500
    # each request's query, plus "endpoint": [product|category|bestsellers|token]
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    products_served: int = 0
    gzip_level: int = 9
    # Time from reading a request to writing the answer's last byte, injected latency
    # included: what benchmarks subtract as "Keepa's" share of a pass.
    handler_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, /product requests after the first this many wait for `resume` (30 s at most),
    # and `holding` says one is waiting: a test acts while a batch is in flight.
    hold_products_after: int | None = None
    holding: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)

    def set_ranks(self, asin: str, ranks: dict[int, Ranks], marketplace: str = "com") -> None:
        with self.lock:
            self.world[(marketplace, asin)] = ranks

    def sent_to(self, endpoint: str) -> list[dict[str, list[str]]]:
        """The queries of the requests made to one endpoint, in order."""
        with self.lock:
            return [query for query in self.requests if query["endpoint"] == [endpoint]]

    def add_handler_time(self, seconds: float) -> None:
        with self.lock:
            self.handler_seconds += seconds

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            endpoint = path.rstrip("/").rsplit("/", 1)[-1]
            self.requests.append({**query, "endpoint": [endpoint]})
            failure = (
                self.fail_next.pop(0) if self.fail_next else self.failing_endpoints.get(endpoint)
            )
            if failure:
                return failure, {"error": {"type": "FAIL", "message": "injected"}, "tokensLeft": 0}
            if endpoint == "token":
                return 200, envelope([], tokens_left=self.tokens_left, tokens_consumed=0)
            domain = int(query["domain"][0])
            marketplace = DOMAINS[domain]
            if self.refuse_when_spent and self.tokens_left <= 0:
                return 429, not_enough_tokens(
                    refill_in=self.refill_in_ms, tokens_left=self.tokens_left
                )
            if endpoint == "category":
                self.tokens_left -= self.category_cost
                ids = [int(part) for part in query["category"][0].split(",")]
                names = {
                    cat: category_name(cat) for cat in ids if cat not in self.unknown_categories
                }
                return 200, categories_response(
                    ids, names, tokens_left=self.tokens_left, tokens_consumed=self.category_cost
                )
            if endpoint == "bestsellers":
                return 200, self.best_sellers_answer(marketplace, domain, int(query["category"][0]))
            products = []
            now = datetime.now(UTC)
            live = query.get("update") == ["0"]
            for asin in query["asin"][0].split(","):
                if asin in self.omitted:
                    continue
                ranks = self.world.get((marketplace, asin))
                raw = self.raw_products.get((marketplace, asin))
                if raw is None and ranks is None:
                    raw = unknown_product(asin)
                elif raw is None:
                    if live and "last_update" in self.options.get(asin, {}):
                        self.options[asin] = {**self.options[asin], "last_update": now}
                    options = {"title": self.titles.get(asin), **self.options.get(asin, {})}
                    raw = product(asin, dict(ranks or {}), now=now, **options)
                if "days" in query:
                    raw = trim_to_days(raw, int(query["days"][0]), now=now)
                products.append(raw)
            # Keepa charges per product, and more with extra parameters (update=0: a live
            # refresh, up to one more token; rating=1: up to one more).
            extra = ("update" in query and query["update"][0] == "0") + ("rating" in query)
            consumed = len(products) * (1 + extra)
            self.products_served += len(products)
            self.tokens_left -= consumed
            return 200, envelope(products, tokens_left=self.tokens_left, tokens_consumed=consumed)

    def best_sellers_answer(self, marketplace: str, domain: int, category: int) -> dict[str, Any]:
        """The category's list, charged only when there is one (an empty answer is free)."""
        asins = self.best_seller_lists.get((marketplace, category))
        if asins is not None:
            self.tokens_left -= self.best_sellers_cost
        return best_sellers(
            category,
            asins,
            updated=self.list_updates.get((marketplace, category), self.lists_updated),
            tokens_left=self.tokens_left,
            tokens_consumed=self.best_sellers_cost,
            domain_id=domain,
        )


def serve(fake: FakeKeepa) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            started = time.perf_counter()
            parsed = urlparse(self.path)
            held = fake.hold_products_after
            if held is not None and parsed.path.endswith("/product"):
                with fake.lock:
                    fake.hold_products_after = held - 1
                if held <= 0:
                    fake.holding.set()
                    fake.resume.wait(timeout=30)
            if fake.latency_seconds:
                time.sleep(fake.latency_seconds)
            status, body = fake.answer(parsed.path, parse_qs(parsed.query))
            # Compact, as Keepa sends it.
            text = json.dumps(body, separators=(",", ":")).encode()
            data = gzip.compress(text, compresslevel=fake.gzip_level)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if not fake.gzip_without_header:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            fake.add_handler_time(time.perf_counter() - started)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
        daemon=True,
    ).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
