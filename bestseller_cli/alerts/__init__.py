"""The outbox delivered to Slack exactly once, and operations alerts. Imports the edges, rules
and the shared modules."""
