"""``RemoteModel``: any LiteLLM model string (a provider, or an OpenAI-compatible server), with
retries, timeouts, fallbacks, prices, and errors that never show a key."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from pydantic import SecretStr

from collab.errors import InvalidOutputError, ModelCallError, UserError
from collab.litellm_import import aimport_litellm, import_litellm
from collab.models.base import MESSAGE_OVERHEAD_TOKENS, AsyncCompletionStream, CompletionStream
from collab.models.call_args import check_max_tokens
from collab.models.deployments import (
    Deployment,
    RouterOptions,
    build_router,
    deployments_of,
    is_router,
)
from collab.models.remote_errors import CallTarget, classify_error, malformed_response
from collab.models.remote_request import (
    SCHEMA_INSTRUCTION,
    Call,
    Endpoint,
    Prediction,
    ProviderInfo,
    build_request,
    probe_provider,
    usage_of,
)
from collab.models.retry import (
    Failure,
    RetriesExhausted,
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
)
from collab.models.sampling import check_sampling
from collab.models.tool_calls import ToolRequest, check_calls, json_calls, parse_hermes_calls
from collab.redaction import REDACTED, redact, remember_secrets, secrets_in, secrets_in_url
from collab.structured import OutputSchema, Schema
from collab.tools import ToolChoice, ToolLike
from collab.types import (
    Completion,
    ModelKind,
    ModelPrice,
    Prompt,
    ToolCall,
    Usage,
    normalize_messages,
)

__all__ = ["Deployment", "Prediction", "RemoteModel", "RetryPolicy", "RouterOptions"]

logger = logging.getLogger(__name__)

PROMPT_TOKEN_MARGIN = 1.25
"""Budgets reserve LiteLLM's prompt count times this: the provider's tokenizer may differ."""
DEFAULT_SYSTEM_PROMPT_TOKENS = 32
"""Reserved on top, for chat templates that add a default system prompt (SmolLM2's does)."""


class RemoteModel:
    """A model behind an HTTP API, called through LiteLLM.

    ``model`` is a LiteLLM model string: ``"openai/gpt-4o-mini"``, ``"anthropic/claude-..."``,
    or ``"openai/<name>"`` with ``api_base=`` for an OpenAI-compatible server. Retryable
    failures (timeouts, connection errors, 429, 5xx) are retried ``max_retries`` times with
    ``retry``'s backoff, then each of ``fallbacks`` is tried in order (their own fallbacks are
    not followed). A fallback given as a string gets none of this model's ``api_base`` or
    ``api_key``: a key never goes to another endpoint. ``extra`` holds further LiteLLM or
    provider parameters (``{"top_p": 0.9}``, ``{"mock_response": "hi"}``); it cannot override
    the ones set here. With ``api_base`` and no key anywhere, a placeholder key is sent (local
    servers need none). LiteLLM is imported on the first call, not here.

    ``model`` may also be a LiteLLM ``Router`` (``group=`` names its model group when it has
    several; ``deployment_prices=`` prices deployments by id), or use ``from_deployments``.
    Calls then go through the Router, whose retries, cooldowns and routing replace collab's
    (``max_retries`` is 0); ``Completion.model`` names the deployment that answered, and each
    call is priced at that deployment's price.
    """

    kind: ModelKind = "remote"

    def __init__(
        self,
        model: str | Any,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008  (an immutable NamedTuple)
        fallbacks: Sequence[str | RemoteModel] = (),
        prices: ModelPrice | None = None,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
        group: str | None = None,
        deployment_prices: Mapping[str, ModelPrice] | None = None,
    ) -> None:
        self._router: Any = None
        self.deployments: tuple[Deployment, ...] = ()
        """The Router's deployments (empty for a single model)."""
        if is_router(model):
            self._router = model
            model, self.deployments = deployments_of(model, group, deployment_prices)
            max_retries = 0  # the Router's num_retries and cooldowns do it
        elif not model or not isinstance(model, str):
            raise UserError(
                f"model must be a LiteLLM model string or a litellm.Router, got {model!r}",
                hint="e.g. RemoteModel('openai/gpt-4o-mini'), or RemoteModel(litellm.Router(...))",
            )
        if not timeout_s > 0:
            raise UserError(f"timeout_s must be > 0, got {timeout_s!r}")
        if max_retries < 0:
            raise UserError(f"max_retries must be >= 0, got {max_retries!r}")
        self.model = model
        self.name = name or model
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry = retry
        self.prices = prices
        self.extra: dict[str, Any] = dict(extra or {})
        self._api_key = SecretStr(api_key) if api_key else None  # masked in vars() and dumps
        deployment_keys = [d.api_key for d in self.deployments]
        self._secrets = [
            s
            for s in (api_key, *deployment_keys, *secrets_in(self.extra), *secrets_in_url(api_base))
            if s
        ]
        remember_secrets(self._secrets)  # LiteLLM may log a provider's answer that echoes one
        self.fallbacks: tuple[RemoteModel, ...] = tuple(
            f
            if isinstance(f, RemoteModel)
            else RemoteModel(f, timeout_s=timeout_s, max_retries=max_retries, retry=retry)
            for f in fallbacks
        )
        self._info: ProviderInfo | None = None

    @classmethod
    def from_deployments(
        cls,
        deployments: Sequence[Deployment],
        *,
        group: str = "llm",
        options: RouterOptions = RouterOptions(),  # noqa: B008  (an immutable NamedTuple)
        timeout_s: float = 60.0,
        name: str | None = None,
        fallbacks: Sequence[str | RemoteModel] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> RemoteModel:
        """A model served by several deployments behind a LiteLLM ``Router`` built here."""
        router = build_router(group, deployments, options, timeout_s=timeout_s)
        prices = {d.id: d.prices for d in deployments if d.prices is not None}
        return cls(
            router,
            group=group,
            deployment_prices=prices,
            timeout_s=timeout_s,
            name=name,
            fallbacks=fallbacks,
            extra=extra,
        )

    def __repr__(self) -> str:
        parts = [repr(self.model)]
        if self.name != self.model:
            parts.append(f"name={self.name!r}")
        if self.api_base:
            parts.append(f"api_base={self.api_base!r}")
        if self._api_key is not None:
            parts.append(f"api_key='{REDACTED}'")
        if self.deployments:
            parts.append(f"deployments={[d.id for d in self.deployments]!r}")
        if self.fallbacks:
            parts.append(f"fallbacks={[f.name for f in self.fallbacks]!r}")
        return redact(f"RemoteModel({', '.join(parts)})", self._secrets)

    def complete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        prediction: Prediction | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion:
        """One completion; ``prediction`` is sent only where the provider supports it.

        ``Completion.retries`` counts every attempt after the first, fallbacks' included, and
        ``Completion.model`` names the model that answered. ``tools`` go to LiteLLM as
        OpenAI tools; the calls come back checked in ``Completion.tool_calls``.
        """
        check_sampling(max_tokens, temperature, stop)
        offered = ToolRequest.of(tools, tool_choice)
        litellm = import_litellm()
        call = _start(prompt, max_tokens, temperature, stop, schema, prediction, offered)
        failure, retries = None, 0
        for model in self._chain():
            kwargs = model._request(call, stream=False)
            try:
                response, used = call_with_retries(
                    partial(model._send(litellm), **kwargs),
                    classify=model._classify,
                    max_retries=model.max_retries,
                    policy=model.retry,
                )
            except RetriesExhausted as exhausted:
                failure, retries = exhausted.failure, retries + exhausted.attempts
                model._log_exhausted(exhausted)
                continue
            except ModelCallError as error:  # not retryable: earlier models' attempts count
                error.attempts += retries
                raise
            return model._finish(call, response, retries + used)
        _raise(failure, retries)

    async def acomplete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        prediction: Prediction | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion:
        """Async twin of ``complete`` (``litellm.acompletion``; waits never block the loop)."""
        check_sampling(max_tokens, temperature, stop)
        offered = ToolRequest.of(tools, tool_choice)
        await aimport_litellm()
        call = _start(prompt, max_tokens, temperature, stop, schema, prediction, offered)
        response, answered, retries = await self._arun(call, stream=False)
        return answered._finish(call, response, retries)

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        prediction: Prediction | None = None,
    ) -> CompletionStream:
        """Text deltas; the request is sent when iteration starts, and only opening is retried."""
        check_sampling(max_tokens, temperature, stop)
        call = _start(prompt, max_tokens, temperature, stop, None, prediction)
        state = _StreamState()

        def deltas() -> Iterator[str]:
            litellm = import_litellm()
            failure, retries = None, 0
            for model in self._chain():
                kwargs = model._request(call, stream=True)
                try:
                    response, used = call_with_retries(
                        partial(model._send(litellm), **kwargs),
                        classify=model._classify,
                        max_retries=model.max_retries,
                        policy=model.retry,
                    )
                except RetriesExhausted as exhausted:
                    failure, retries = exhausted.failure, retries + exhausted.attempts
                    model._log_exhausted(exhausted)
                    continue
                except ModelCallError as error:  # not retryable: earlier models' attempts count
                    error.attempts += retries
                    raise
                state.model, state.retries = model, retries + used
                state.answered = model._answered(response)
                yield from _sync_deltas(response, state)
                return
            _raise(failure, retries)

        return CompletionStream(deltas(), state.finish_for(call))

    def astream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        prediction: Prediction | None = None,
    ) -> AsyncCompletionStream:
        """Async twin of ``stream``."""
        check_sampling(max_tokens, temperature, stop)

        call = _start(prompt, max_tokens, temperature, stop, None, prediction)
        state = _StreamState()

        async def deltas() -> AsyncIterator[str]:
            response, model, state.retries = await self._arun(call, stream=True)
            state.model, state.answered = model, model._answered(response)
            chunks = aiter(response)
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    error = model._stream_failure(exc, state)
                else:
                    if (delta := state.absorb(chunk)) is not None:
                        yield delta
                    continue
                raise error  # outside the except block: nothing chained

        return AsyncCompletionStream(deltas(), state.finish_for(call))

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer; a chars/4 estimate if LiteLLM can't tell."""
        try:
            return int(import_litellm().token_counter(model=self.model, text=text))
        except Exception:  # an unknown model must not break budgeting
            return _estimate_tokens(text)

    def count_prompt_tokens(self, prompt: Prompt, *, schema: Schema | None = None) -> int:
        """An upper estimate of the prompt tokens the provider will bill: LiteLLM's count
        (which may use another tokenizer than the provider's) with a safety margin, plus the
        ``schema`` instruction (providers without native structured output get it as a
        system message)."""
        extra = 0
        if schema is not None:
            instruction = SCHEMA_INSTRUCTION + json.dumps(OutputSchema.of(schema).json_schema)
            extra = math.ceil(self.count_tokens(instruction) * PROMPT_TOKEN_MARGIN)
        messages = normalize_messages(prompt)
        try:
            dicts = [m.to_dict() for m in messages]
            counted = int(import_litellm().token_counter(model=self.model, messages=dicts))
        except Exception:
            counted = sum(_estimate_tokens(m.content) for m in messages)
        return (
            math.ceil(counted * PROMPT_TOKEN_MARGIN)
            + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
            + DEFAULT_SYSTEM_PROMPT_TOKENS
            + extra
        )

    def _chain(self) -> tuple[RemoteModel, ...]:
        chain = (self, *self.fallbacks)
        for model in chain:  # every missing key is reported before any request is sent
            model._provider_info()
        return chain

    async def _arun(self, call: Call, *, stream: bool) -> tuple[Any, RemoteModel, int]:
        litellm = await aimport_litellm()
        failure, retries = None, 0
        for model in self._chain():
            kwargs = model._request(call, stream=stream)
            try:
                response, used = await acall_with_retries(
                    partial(model._asend(litellm), **kwargs),
                    classify=model._classify,
                    max_retries=model.max_retries,
                    policy=model.retry,
                )
            except RetriesExhausted as exhausted:
                failure, retries = exhausted.failure, retries + exhausted.attempts
                model._log_exhausted(exhausted)
                continue
            except ModelCallError as error:  # not retryable: earlier models' attempts count
                error.attempts += retries
                raise
            return response, model, retries + used
        _raise(failure, retries)

    def check(self) -> None:
        """Check the configuration offline: a known provider and its key; raises if not."""
        self._provider_info()

    def _log_exhausted(self, exhausted: RetriesExhausted) -> None:
        logger.info("%s failed %d times: %s", self.name, exhausted.attempts, exhausted)

    def _endpoint(self) -> Endpoint:
        key = self._api_key.get_secret_value() if self._api_key is not None else None
        return Endpoint(self.model, self.api_base, key, self.timeout_s, self.extra)

    def _provider_info(self) -> ProviderInfo:
        if self._info is None:  # a race only probes twice: the answer is the same
            endpoint = self._endpoint()
            if self.deployments:  # a group's deployments serve one kind of model
                first = self.deployments[0]
                endpoint = Endpoint(
                    first.model, first.api_base, first.api_key, self.timeout_s, self.extra
                )
            self._info = probe_provider(import_litellm(), endpoint)
        return self._info

    def _request(self, call: Call, *, stream: bool) -> dict[str, Any]:
        kwargs = build_request(self._endpoint(), self._provider_info(), call, stream=stream)
        if self._router is not None:
            # Each deployment's endpoint and key live in the Router, and so do its retries.
            for key in ("api_base", "api_key", "num_retries"):
                kwargs.pop(key, None)
        return kwargs

    def _send(self, litellm: Any) -> Any:
        return self._router.completion if self._router is not None else litellm.completion

    def _asend(self, litellm: Any) -> Any:
        return self._router.acompletion if self._router is not None else litellm.acompletion

    def _answered(self, response: Any) -> Deployment | None:
        """The deployment of this model's Router that produced ``response``."""
        if not self.deployments:
            return None
        hidden = getattr(response, "_hidden_params", None) or {}
        answered = hidden.get("model_id")
        for deployment in self.deployments:
            if deployment.id == answered:
                return deployment
        logger.warning("%s: no deployment has id %r; pricing as the group", self.name, answered)
        return None

    def _target(self) -> CallTarget:
        info = self._info
        return CallTarget(
            model=self.model,
            api_base=self.api_base,
            timeout_s=self.timeout_s,
            key_env_var=info.key_env_var if info else "the provider's key variable",
            secrets=self._secrets,
        )

    def _classify(self, exc: Exception) -> Failure:
        return classify_error(exc, self._target())

    def _stream_failure(self, exc: Exception, state: _StreamState) -> ModelCallError:
        """The error for a stream that failed: once text has arrived, a cut stream."""
        if not state.deltas:
            return self._classify(exc).error
        error = malformed_response(
            self._target(), f"stream cut after {state.deltas} tokens ({type(exc).__name__})"
        )
        error.attempts = state.retries + 1
        return error

    def _finish(self, call: Call, response: Any, retries: int) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise self._no_choices(call, response, retries)
        choice = choices[0]
        text = choice.message.content or ""
        usage = usage_of(response) or self._counted_usage(call, text)
        answered = self._answered(response)
        completion = self._completion(call, text, usage, choice.finish_reason, retries, answered)
        if call.tools is not None:
            calls = [_tool_call(c) for c in getattr(choice.message, "tool_calls", None) or []]
            if not calls and self.api_base and "<tool_call>" in text:
                # llama.cpp-python's server renders tools with the model's template but returns
                # the Hermes-form calls as text unless one tool is named in tool_choice
                completion.text, calls = parse_hermes_calls(text)
            elif not calls and self.api_base:
                # ... and small models there often write the calls as JSON in code fences
                calls = json_calls(text, call.tools)
                completion.text = "" if calls else text
            completion.tool_calls = check_calls(calls, call.tools)
        return completion

    def _no_choices(self, call: Call, response: Any, retries: int) -> ModelCallError:
        """A 200 with no answer: the provider may still have billed the prompt, so the error
        carries its usage (or our estimate of the prompt) as ``billed`` for the meter."""
        error = malformed_response(self._target(), "the answer has no choices")
        error.attempts = retries + 1
        usage = usage_of(response) or self._counted_usage(call, "")
        error.billed = self._completion(call, "", usage, None, retries)  # type: ignore[attr-defined]
        return error

    def _completion(
        self,
        call: Call,
        text: str,
        usage: Usage,
        finish_reason: str | None,
        retries: int,
        answered: Deployment | None = None,
    ) -> Completion:
        # Priced here only with prices of its own; a metered call gets the run's price.
        prices = answered.prices if answered is not None else self.prices
        cost = (
            prices.cost_usd(usage.prompt_tokens, usage.completion_tokens)
            if prices is not None
            else None
        )
        completion = Completion(
            text=text,
            model=answered.id if answered is not None else self.name,
            kind=self.kind,
            usage=usage,
            latency_s=time.perf_counter() - call.started,
            cost_usd=cost,
            finish_reason=finish_reason,
            retries=retries,
        )
        if call.schema is not None:
            try:
                completion.parsed = call.schema.validate_text(text)
            except InvalidOutputError as error:
                error.billed = completion  # type: ignore[attr-defined]  (the meter settles it)
                raise
        return completion

    def _counted_usage(self, call: Call, text: str) -> Usage:
        """Usage estimated here, flagged, for servers that do not report it: the prompt as a
        budget reserves it (an upper estimate), the text by the model's tokenizer."""
        schema = call.schema.json_schema if call.schema is not None else None
        return Usage(
            prompt_tokens=self.count_prompt_tokens(call.messages, schema=schema),
            completion_tokens=self.count_tokens(text) if text else 0,
            estimated=True,
        )


@dataclass
class _StreamState:
    """What a stream learns as it goes: who answered, retries, usage, finish reason."""

    model: RemoteModel | None = None
    answered: Deployment | None = None
    retries: int = 0
    usage: Usage | None = None
    finish_reason: str | None = None
    deltas: int = 0
    """Text deltas received (one per token from llama.cpp servers)."""

    def absorb(self, chunk: Any) -> str | None:
        """Note a chunk's usage and finish reason; return its text delta, if any."""
        if (usage := usage_of(chunk)) is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return None
        if choices[0].finish_reason:
            self.finish_reason = choices[0].finish_reason
        delta = getattr(getattr(choices[0], "delta", None), "content", None) or None
        self.deltas += delta is not None
        return delta

    def finish_for(self, call: Call) -> Any:
        def finish(text: str) -> Completion:
            assert self.model is not None  # set before the first delta
            usage = self.usage or self.model._counted_usage(call, text)
            return self.model._completion(
                call, text, usage, self.finish_reason, self.retries, self.answered
            )

        return finish


def _sync_deltas(response: Any, state: _StreamState) -> Iterator[str]:
    assert state.model is not None
    chunks = iter(response)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as exc:
            error = state.model._stream_failure(exc, state)
        else:
            if (delta := state.absorb(chunk)) is not None:
                yield delta
            continue
        raise error  # outside the except block: nothing chained


def _start(
    prompt: Prompt,
    max_tokens: int,
    temperature: float,
    stop: list[str] | None,
    schema: Schema | None,
    prediction: Prediction | None,
    offered: ToolRequest | None = None,
) -> Call:
    check_max_tokens(max_tokens)  # before any request: 0 or less means "no limit" to llama.cpp
    checked = OutputSchema.of(schema) if schema is not None else None
    messages = normalize_messages(prompt)
    return Call(messages, max_tokens, temperature, stop, checked, prediction, tools=offered)


def _tool_call(call: Any) -> ToolCall:
    """A LiteLLM tool call (an object or a dict) as a ``ToolCall``."""
    if not isinstance(call, dict):
        function = getattr(call, "function", None)
        call = {
            "id": getattr(call, "id", None),
            "function": {
                "name": getattr(function, "name", None),
                "arguments": getattr(function, "arguments", None),
            },
        }
    return ToolCall.from_openai(call)


def _raise(failure: Failure | None, attempts: int) -> NoReturn:
    """Raise the last model's error, with every model's ``attempts``: called outside any
    except block, so nothing is chained."""
    assert failure is not None  # the chain always has at least this model
    if isinstance(failure.error, ModelCallError):
        failure.error.attempts = attempts
    raise failure.error


def _estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4
