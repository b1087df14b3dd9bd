"""The pure domain: badges, routing, stories, operations conditions, notification config,
product kinds, the report's shape. No I/O: imports only the shared modules."""
