"""A dead man's switch: ping HEALTHCHECK_URL the way cron monitors expect.

Healthchecks.io, Cronitor and Better Stack all take `<url>/start` when a run starts,
`<url>` when it succeeds and `<url>/fail` when it fails; Healthchecks.io and Better Stack
also take `<url>/<exit code>`, which says how it failed. If no ping arrives in time, the
monitor alerts: that covers the case where nothing runs at all.

A ping has a short timeout, is retried once, and never changes the run's result. The URL
holds the monitor's secret, so it is redacted wherever it could be printed.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from bestseller_cli.redact import redact, register_secret

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
ATTEMPTS = 2
# Monitors that read the exit code from the last path segment.
EXIT_CODE_HOSTS = ("hc-ping.com", "healthchecks.io", "betterstack.com")


def ping_url(url: str, event: str, *, exit_code: int = 0) -> str:
    """`<url>/start`, `<url>`, or on failure `<url>/<exit code>` where the monitor reads
    exit codes and `<url>/fail` elsewhere; a query string stays at the end."""
    parts = urlsplit(url)
    suffix = ""
    if event == "start":
        suffix = "/start"
    elif event == "fail":
        host = parts.hostname or ""
        reads_codes = any(host == name or host.endswith("." + name) for name in EXIT_CODE_HOSTS)
        suffix = f"/{exit_code}" if reads_codes and exit_code else "/fail"
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def ping(url: str, event: str, *, exit_code: int = 0) -> bool:
    """One ping, retried once; False (and a warning) when the monitor could not be told."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = httpx.get(ping_url(url, event, exit_code=exit_code), timeout=TIMEOUT_SECONDS)
            if response.status_code < 500:
                if response.is_error:
                    log.warning("HEALTHCHECK_URL answered HTTP %s", response.status_code)
                return response.is_success
            problem = f"HTTP {response.status_code}"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # a malformed URL too
            problem = redact(str(exc)) or type(exc).__name__
        log.warning("HEALTHCHECK_URL %s ping failed (attempt %d): %s", event, attempt, problem)
    return False


@dataclass
class Pinged:
    """The run inside `monitored`; set `exit_code` before leaving the block, or `silent`
    when the run did nothing worth reporting (a live pass holds the run lock: that pass
    reports itself, and this one must not ping success while nothing is checked)."""

    exit_code: int = 0
    silent: bool = False


@contextmanager
def monitored(url: str | None) -> Iterator[Pinged]:
    """Ping start on entry and success or failure on exit. An exception leaving the block
    counts as a failure with its `exit_code` (1 when it has none) and goes on unchanged."""
    run = Pinged()
    if url is None:
        yield run
        return
    register_secret(url)
    ping(url, "start")
    try:
        yield run
    except BaseException as exc:
        code = getattr(exc, "exit_code", 1)
        run.exit_code = code if isinstance(code, int) else 1
        raise
    finally:
        if not run.silent:
            event = "success" if run.exit_code == 0 else "fail"
            ping(url, event, exit_code=run.exit_code)
