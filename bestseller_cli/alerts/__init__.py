"""The outbox delivered to Slack exactly once, and operations alerts. Imports the edges, the
pictures, shapes, rules and the shared modules."""
