"""The pictures, as SVG text: a product's rank chart and sparkline (`charts.py`), who held #1
(`holder_timeline.py`), and what they share (`svg.py`). Pure, like the rules: drawn from the
shapes, for the report, the alerts and the demo. Imports the shapes, rules and the shared
modules; never the stores, Keepa or Slack."""
