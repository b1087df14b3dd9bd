"""The pure domain: badges, schedule, routing, stories, operations conditions, notification
config, product kinds. No I/O: imports only the shared modules."""
