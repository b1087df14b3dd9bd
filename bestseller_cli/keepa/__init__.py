"""Keepa's HTTP client apart from the mapping of its JSON to our models. Imports rules and the
shared modules; never the stores."""
