"""LiteLLM / OpenAI SDK / httpx exceptions -> collab errors, scrubbed of secrets, with a verdict
on whether retrying can help."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from collab.errors import (
    AuthenticationError,
    CollabError,
    MalformedResponseError,
    ModelTimeoutError,
    RemoteAPIError,
    ServerUnreachableError,
)
from collab.models.retry import Failure, parse_retry_after
from collab.redaction import redact

__all__ = ["CallTarget", "classify_error", "malformed_response"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""Statuses worth another attempt: timeouts, conflicts, rate limits and transient server
failures (529: Anthropic's "overloaded"); the OpenAI SDK retries the same set."""

_AUTH_STATUS = frozenset({401, 403})
_LITELLM_PREFIX = re.compile(r"^(litellm\.\w+:\s*)+(\w+Error:\s*)?")
_MAX_DETAIL = 300
_MALFORMED = re.compile(r"JSONDecodeError|Expecting value: line \d+ column \d+")
"""How a body that does not parse shows in LiteLLM's messages when the exception is not chained."""


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a failed call was aimed at, for the error message."""

    model: str
    api_base: str | None
    timeout_s: float
    key_env_var: str
    """The environment variable the provider's key comes from (e.g. ``OPENAI_API_KEY``)."""
    secrets: Sequence[str]
    """Known secret values (the api_key, secret headers) to mask in every message."""

    @property
    def where(self) -> str:
        return f"{self.model} at {self.api_base}" if self.api_base else self.model


def classify_error(exc: Exception, target: CallTarget) -> Failure:
    """The collab error for ``exc`` (never chained to it) and whether a retry may help."""
    import httpx
    import openai

    chain = list(_chain(exc))
    if any(
        isinstance(e, openai.APITimeoutError | httpx.TimeoutException | TimeoutError) for e in chain
    ):
        return Failure(_timeout(target), retryable=True)
    if any(isinstance(e, json.JSONDecodeError) for e in chain) or _MALFORMED.search(str(exc)):
        return Failure(malformed_response(target, "its answer is not valid JSON"), retryable=True)
    if any(isinstance(e, httpx.TransportError | ConnectionError | socket.gaierror) for e in chain):
        return Failure(_unreachable(target, chain), retryable=True)

    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    detail = _detail(exc, target)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError) or (
        status in _AUTH_STATUS
    ):
        return Failure(_rejected_key(target, status, detail), retryable=False)
    if status == 408:
        return Failure(_timeout(target), retryable=True)
    if isinstance(exc, openai.RateLimitError) or status == 429:
        status = 429
    # LiteLLM also raises APIConnectionError for malformed answers: worth one more try.
    retryable = status in RETRYABLE_STATUS or isinstance(
        exc, openai.InternalServerError | openai.APIConnectionError
    )
    error = RemoteAPIError(
        redact(f"{target.where} answered {status or 'an error'}: {detail}", target.secrets),
        status_code=status,
        hint=_api_hint(target, status),
    )
    return Failure(error, retryable=retryable, retry_after_s=_retry_after(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _detail(exc: Exception, target: CallTarget) -> str:
    text = _LITELLM_PREFIX.sub("", str(exc).strip()) or type(exc).__name__
    text = redact(" ".join(text.split()), target.secrets)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _timeout(target: CallTarget) -> CollabError:
    return ModelTimeoutError(
        redact(
            f"{target.where} did not answer within timeout_s={target.timeout_s:g}", target.secrets
        ),
        hint="raise timeout_s=, lower max_tokens, or check that the server is not overloaded",
    )


def _unreachable(target: CallTarget, chain: list[BaseException]) -> CollabError:
    if any(isinstance(e, socket.gaierror) for e in chain):
        reason = "its host name does not resolve"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain):
        reason = "connection refused"
    else:
        reason = "the connection failed or dropped"
    if target.api_base:
        message = f"cannot reach {target.api_base} for {target.model}: {reason}"
        hint = "is the server running? `collab serve` starts a local one"
    else:
        message = f"cannot reach the provider of {target.model}: {reason}"
        hint = "check the network connection; the provider may be down"
    return ServerUnreachableError(redact(message, target.secrets), hint=hint)


def _rejected_key(target: CallTarget, status: int | None, detail: str) -> CollabError:
    return AuthenticationError(
        redact(
            f"{target.where} rejected the API key ({status or 'auth error'}): {detail}",
            target.secrets,
        ),
        status_code=status,
        hint=f"the key is set but refused: check that {target.key_env_var} (or api_key=) "
        "holds a valid, unexpired key with access to this model",
    )


def malformed_response(target: CallTarget, what: str) -> MalformedResponseError:
    """The error for an answer that is not a usable completion (``what`` says how)."""
    return MalformedResponseError(
        redact(f"{target.where} sent a malformed response: {what}", target.secrets),
        hint="the server or a proxy in between is misbehaving; it may be transient: retry "
        "later or add fallbacks=",
    )


def _api_hint(target: CallTarget, status: int | None) -> str:
    if status == 429:
        return "rate limited: slow down, raise max_retries=, or add fallbacks="
    if status is not None and status >= 500:
        return "the server failed; it may be transient: retry later or add fallbacks="
    if status == 404:
        return f"check the model name {target.model!r} and api_base"
    return "check the request (model, max_tokens, schema, extra=) against the provider's docs"


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    try:
        return parse_retry_after(headers) if headers is not None else None
    except Exception:  # a malformed header must not turn into a different error
        return None
