"""What the report and the charts show, as data: the report's typed shape (`report_models.py`)
and a product's rank history per time bucket (`rank_history.py`). The stores read into them,
the report and the pictures show them. Pure; imports rules and the shared modules."""
