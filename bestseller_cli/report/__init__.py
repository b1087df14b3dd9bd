"""`bestseller report`: building the typed report and rendering it. Imports alerts, the edges,
rules and the shared modules."""
