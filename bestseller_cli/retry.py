"""Retrying a call to an outside system (Slack, a webhook): one backoff, one log line."""

import logging
from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


def backoff(delay: float) -> tenacity.wait.wait_base:
    """Exponential from `delay` seconds, at most a minute, plus up to `delay` of jitter so
    that passes retrying together do not hit the service together."""
    return tenacity.wait_exponential(multiplier=delay, max=60) + tenacity.wait_random(0, delay)


def with_retries(
    attempt: Callable[[], T],
    *,
    retryable: type[BaseException],
    max_retries: int,
    delay: float,
    log: logging.Logger,
) -> T:
    """`attempt()`, again while it raises `retryable`, at most `max_retries` more times; the
    last error is raised as it is."""

    def log_retry(state: tenacity.RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s; retrying in %.1fs", error, wait)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_retries + 1),
        wait=backoff(delay),
        retry=tenacity.retry_if_exception_type(retryable),
        before_sleep=log_retry,
        reraise=True,
    )
    return retrying(attempt)
