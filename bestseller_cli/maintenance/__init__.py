"""Upkeep the operator runs: `doctor`, `prune`, and what `asins add` says of products without
ranks. Imports alerts, the edges, rules and the shared modules."""
