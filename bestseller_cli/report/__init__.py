"""`bestseller report`: building the typed report and rendering it. Imports alerts, the edges,
the pictures, shapes, rules and the shared modules."""
