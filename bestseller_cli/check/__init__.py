"""The monitoring pass (`bestseller check`) and what it drives: batches, category names, holder
lookups, the hand-off to delivery. Imports alerts, the edges, rules and the shared modules."""
