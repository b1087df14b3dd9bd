"""Keepa and Slack faked at the network edge, shared by the tests and the benchmarks.

Not part of the installed package (pyproject ships only `bestseller_cli`) nor of the image.
`keepa_payloads` builds Keepa's JSON (KEEPA_SHAPES.md says what is real), `keepa_server`
serves it over HTTP, `slack_server` is a fake Slack Web API for the real slack-sdk, and
`webhook_receiver` a webhook receiver that verifies every signature (both served by
`loopback`).
"""

# Fake credentials, shaped like real ones, that tests search for in every output. Assembled
# from parts so that secret scanners looking for token-shaped literals do not flag test values.
KEEPA_TEST_KEY = "k" * 12 + "SECRETKEEPAKEY" + "0" * 38
SLACK_TEST_TOKEN = "-".join(("xoxb", "000000000", "SECRETSLACKTOKEN"))

# How often a fake's serve_forever looks for shutdown(): stopping waits up to this long, so
# the default 0.5 s was added to every test that started a fake server.
SHUTDOWN_POLL_SECONDS = 0.01
