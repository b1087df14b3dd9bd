"""`bestseller demo`: the real pass, on a day the product makes up itself. Above the use cases
it runs (the pass, the report), below the CLI: `scenario.py` (the generated watch list and its
ranks, hour by hour, as Keepa's JSON), `world.py` (Keepa and Slack answered in this process)
and `run.py` (the passes, then the report)."""
