"""Our Keepa parser against the `keepa` package's, on the same 100-product responses.

Both sides start from the decoded JSON (gunzip + json.loads, which both need and which is
timed once, separately) and do what their library does to each product of a response:

- ours: `bestseller_cli.keepa.payload.parse_product(product, marketplace=...)` -> ProductSnapshot
  (pydantic): current rank per category from salesRanks, category names from categoryTree,
  title cleaned, image URL, last update, and the current price / rating / review count from
  the last point of csv series 0, 1, 16, 17.
- keepa: what `keepa.Keepa.query()` (history on, the default) does per product in
  `_product_query`: `keepa.parse_csv(product["csv"], to_datetime=True,
  out_of_stock_as_nan=True)`, i.e. every csv series to numpy value and datetime arrays plus
  a pandas DataFrame. It never reads salesRanks (the sub-category ranks the badge needs).
- keepa typed: `query(typed=True)`: the same parse_csv, then
  `keepa.models.backend.Product.model_validate(product)` (pydantic, every field).
"""

import copy
import gzip
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

from bestseller_cli.keepa.payload import parse_product

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import keepa
    from keepa.models.backend import Product


def _ours(products: list[dict[str, Any]]) -> None:
    for raw in products:
        parse_product(raw, marketplace="com")


def _keepa(products: list[dict[str, Any]]) -> None:
    for raw in products:
        if raw["csv"]:
            raw["data"] = keepa.parse_csv(raw["csv"], to_datetime=True, out_of_stock_as_nan=True)


def _keepa_typed(products: list[dict[str, Any]]) -> None:
    _keepa(products)
    for raw in products:
        Product.model_validate(raw)


def _best_seconds(
    decoded: list[list[dict[str, Any]]],
    parse: Callable[[list[dict[str, Any]]], None],
    *,
    fresh: bool,
    repeats: int,
) -> float:
    """Best time of one round over every response (as timeit advises: slower rounds measure
    other processes, not the parser); copies are made outside the clock."""
    samples = []
    for round_number in range(repeats + 1):
        # keepa's parsers add "data" to each product: give them fresh copies.
        inputs = [copy.deepcopy(products) for products in decoded] if fresh else decoded
        started = time.perf_counter()
        for products in inputs:
            parse(products)
        if round_number:  # round 0 warms up
            samples.append(time.perf_counter() - started)
    return min(samples)


def _decode(responses: list[bytes]) -> list[list[dict[str, Any]]]:
    return [json.loads(gzip.decompress(body))["products"] for body in responses]


def compare(responses: list[bytes], *, repeats: int) -> dict[str, Any]:
    """Best time per 100-product response, over `repeats` rounds of all `responses`."""
    decoded = _decode(responses)
    count = sum(len(products) for products in decoded)
    per_response = {
        name: _best_seconds(decoded, parse, fresh=fresh, repeats=repeats) * 1000 / len(responses)
        for name, parse, fresh in (
            ("ours", _ours, False),
            ("keepa_parse_csv", _keepa, True),
            ("keepa_typed", _keepa_typed, True),
        )
    }
    decode_samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        _decode(responses)
        decode_samples.append(time.perf_counter() - started)
    decode_ms = min(decode_samples) * 1000 / len(responses)
    ours, theirs = per_response["ours"], per_response["keepa_parse_csv"]
    return {
        "responses": len(responses),
        "products_per_response": count // len(responses),
        "response_bytes_gzip": sum(len(body) for body in responses) // len(responses),
        "response_bytes_json": sum(len(gzip.decompress(body)) for body in responses)
        // len(responses),
        "repeats": repeats,
        "keepa_version": keepa.__version__,
        "ms_per_response": {name: round(value, 3) for name, value in per_response.items()},
        "decode_ms_per_response": round(decode_ms, 3),
        "ratio_keepa_parse_csv_to_ours": round(theirs / ours, 2),
        "ratio_keepa_typed_to_ours": round(per_response["keepa_typed"] / ours, 2),
        "ratio_with_decode": round((theirs + decode_ms) / (ours + decode_ms), 2),
    }
