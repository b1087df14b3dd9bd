"""Slack's client apart from building its messages. Imports rules and the shared modules; never
the stores."""
