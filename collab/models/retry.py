"""Retries of remote calls (tenacity): only transient failures, exponential backoff with jitter,
and the server's ``Retry-After`` when it sends one."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from collab.errors import CollabError, ModelCallError

__all__ = [
    "Failure",
    "RetriesExhausted",
    "RetryPolicy",
    "acall_with_retries",
    "call_with_retries",
    "parse_retry_after",
]

logger = logging.getLogger("collab.models.remote")

T = TypeVar("T")


class RetryPolicy(NamedTuple):
    """How a remote call waits before each retry; how many retries is ``max_retries``."""

    initial_s: float = 0.25
    """Upper bound of the first wait, in seconds; it doubles with each retry. The wait itself
    is random below that bound ("full jitter"), so parallel callers do not retry in step."""
    max_s: float = 4.0
    """Cap on one backoff wait, in seconds."""
    retry_after_max_s: float = 30.0
    """Cap on a wait the server asks for with ``Retry-After``, in seconds."""


class Failure(NamedTuple):
    """A failed attempt, already translated: the collab error and whether to try again."""

    error: CollabError
    retryable: bool
    retry_after_s: float | None = None
    """The wait the server asked for (``Retry-After``), if it did."""


class RetriesExhausted(Exception):
    """Every attempt failed and the last failure was retryable (so a fallback may help)."""

    def __init__(self, failure: Failure, attempts: int) -> None:
        super().__init__(failure.error.message)
        self.failure = failure
        self.attempts = attempts


class _Failed(Exception):
    """Carries a ``Failure`` through tenacity; never leaves this module."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error.message)
        self.failure = failure


Classify = Callable[[Exception], Failure]


def call_with_retries(
    fn: Callable[[], T], *, classify: Classify, max_retries: int, policy: RetryPolicy
) -> tuple[T, int]:
    """``fn()`` and how many retries it took.

    A failure that is not retryable raises its collab error at once; when retries run out,
    ``RetriesExhausted`` carries the last failure.
    """

    def attempt() -> T:
        try:
            return fn()
        except Exception as exc:
            failure = classify(exc)
        # Raised outside the except block, so the provider's exception (its request carries
        # the headers, keys included) is not chained as __context__.
        raise _Failed(failure)

    retrying = Retrying(
        stop=stop_after_attempt(max(max_retries, 0) + 1),
        wait=_wait(policy),
        retry=retry_if_exception(_retryable),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        result = retrying(attempt)
    except _Failed as failed:
        failure, attempts = failed.failure, retrying.statistics.get("attempt_number", 1)
    else:
        return result, retrying.statistics.get("attempt_number", 1) - 1
    raise _final(failure, attempts)


async def acall_with_retries(
    fn: Callable[[], Awaitable[T]], *, classify: Classify, max_retries: int, policy: RetryPolicy
) -> tuple[T, int]:
    """Async twin of ``call_with_retries``: waits with ``asyncio.sleep``."""

    async def attempt() -> T:
        try:
            return await fn()
        except Exception as exc:
            failure = classify(exc)
        raise _Failed(failure)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(max_retries, 0) + 1),
        wait=_wait(policy),
        retry=retry_if_exception(_retryable),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        result: T = await retrying(attempt)
    except _Failed as failed:
        failure, attempts = failed.failure, retrying.statistics.get("attempt_number", 1)
    else:
        return result, retrying.statistics.get("attempt_number", 1) - 1
    raise _final(failure, attempts)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP-date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _final(failure: Failure, attempts: int) -> Exception:
    if isinstance(failure.error, ModelCallError):
        failure.error.attempts = attempts
    return RetriesExhausted(failure, attempts) if failure.retryable else failure.error


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Failed) and exc.failure.retryable


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """The server's ``Retry-After`` (capped) when it sent one, else jittered backoff."""
    backoff = wait_random_exponential(multiplier=policy.initial_s, max=policy.max_s)

    def wait(state: RetryCallState) -> float:
        failed = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failed, _Failed) and failed.failure.retry_after_s is not None:
            return min(failed.failure.retry_after_s, policy.retry_after_max_s)
        return backoff(state)

    return wait


def _log_retry(state: RetryCallState) -> None:
    failed = state.outcome.exception() if state.outcome is not None else None
    sleep = state.next_action.sleep if state.next_action is not None else 0.0
    if isinstance(failed, _Failed):  # its message is already scrubbed of secrets
        logger.info("retry %d in %.2f s after: %s", state.attempt_number, sleep, failed)
