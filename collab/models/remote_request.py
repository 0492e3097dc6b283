"""What ``RemoteModel`` asks LiteLLM: the provider's capabilities, and one call's parameters."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from collab.errors import MissingAPIKeyError, UserError
from collab.models.tool_calls import ToolRequest
from collab.structured import OutputSchema
from collab.types import Message, Usage

__all__ = ["Call", "Endpoint", "Prediction", "ProviderInfo", "build_request", "probe_provider"]

Prediction = str | Mapping[str, Any]
"""Expected output (OpenAI predicted outputs): the text, or ``{"type": "content", ...}``."""

PLACEHOLDER_KEY = "no-key"
"""Sent to a self-hosted server when no key is configured: the OpenAI client insists on one."""
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")
SCHEMA_INSTRUCTION = "Answer with one JSON value that matches this JSON schema, nothing else:\n"


@dataclass
class Call:
    """One call's inputs, shared by a model and its fallbacks."""

    messages: list[Message]
    max_tokens: int
    temperature: float
    stop: list[str] | None
    schema: OutputSchema | None
    prediction: Prediction | None
    started: float = field(default_factory=time.perf_counter)
    tools: ToolRequest | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how a model is called."""

    model: str
    api_base: str | None
    api_key: str | None
    timeout_s: float
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What LiteLLM knows about a model's provider, probed once per model."""

    key_env_var: str
    """The variable the provider's key is read from (e.g. ``OPENAI_API_KEY``)."""
    placeholder_key: bool
    """No key anywhere, but a self-hosted ``api_base``: send ``PLACEHOLDER_KEY``."""
    supports_schema: bool
    """Native JSON-schema output (``response_format`` of type ``json_schema``)."""
    params: frozenset[str]
    """The OpenAI parameters LiteLLM says the provider takes."""


def probe_provider(litellm: ModuleType, endpoint: Endpoint) -> ProviderInfo:
    """Ask LiteLLM about ``endpoint.model``, offline; a missing key raises before any request."""
    model, api_base = endpoint.model, endpoint.api_base
    try:
        provider = litellm.get_llm_provider(model=model, api_base=api_base)[1]
    except Exception:
        raise UserError(
            f"LiteLLM does not know the provider of model {model!r}",
            hint="prefix the provider, e.g. 'openai/gpt-4o-mini'; an OpenAI-compatible server "
            "takes 'openai/<name>' and api_base=",
        ) from None
    env_var = f"{provider.upper()}_API_KEY"
    missing: list[str] = []
    if endpoint.api_key is None:
        report = litellm.validate_environment(model=model, api_base=api_base)
        missing = [k for k in report.get("missing_keys", []) if "KEY" in k or "TOKEN" in k]
        env_var = missing[0] if missing else env_var
        if missing and api_base is None:
            raise MissingAPIKeyError(
                f"no API key for {model}: {' / '.join(missing)} is not set",
                hint=f"export {env_var}=... or pass api_key= to RemoteModel",
            )
    try:
        params = litellm.get_supported_openai_params(model=model, custom_llm_provider=provider)
    except Exception:  # unknown model: assume no optional parameters
        params = None
    return ProviderInfo(
        key_env_var=env_var,
        placeholder_key=bool(missing),
        supports_schema=bool(litellm.supports_response_schema(model=model)),
        params=frozenset(params or ()),
    )


def build_request(
    endpoint: Endpoint, info: ProviderInfo, call: Call, *, stream: bool
) -> dict[str, Any]:
    """The keyword arguments of ``litellm.completion`` for ``call``."""
    kwargs: dict[str, Any] = {
        **endpoint.extra,
        "model": endpoint.model,
        "max_tokens": call.max_tokens,
        "temperature": call.temperature,
        "timeout": endpoint.timeout_s,
        "num_retries": 0,  # ours are the only retries: LiteLLM's and the OpenAI SDK's are off
        "max_retries": 0,
    }
    if call.stop:
        kwargs["stop"] = call.stop
    if endpoint.api_base:
        kwargs["api_base"] = endpoint.api_base
    if endpoint.api_key is not None:
        kwargs["api_key"] = endpoint.api_key
    elif info.placeholder_key:
        kwargs["api_key"] = PLACEHOLDER_KEY
    messages = call.messages
    if call.schema is not None:
        messages = _add_schema(
            kwargs, call.schema, messages, info, self_hosted=bool(endpoint.api_base)
        )
    if call.prediction is not None and "prediction" in info.params:
        prediction = call.prediction
        kwargs["prediction"] = (
            {"type": "content", "content": prediction}
            if isinstance(prediction, str)
            else dict(prediction)
        )
    if call.tools is not None:  # LiteLLM translates OpenAI's tools for every provider
        kwargs["tools"] = call.tools.specs()
        kwargs["tool_choice"] = call.tools.openai_choice()
    if stream:
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}  # usage arrives in the last chunk
    kwargs["messages"] = [m.to_dict() for m in messages]
    return kwargs


def usage_of(response: Any) -> Usage | None:
    """The token usage a response or stream chunk reports, if any.

    LiteLLM fills in zeros when the provider sent no usage; a chat prompt always has tokens,
    so 0 prompt tokens means "not reported" (``None``), never a free call.
    """
    usage = getattr(response, "usage", None)
    if usage is None or not getattr(usage, "prompt_tokens", None):
        return None
    return Usage(
        prompt_tokens=int(usage.prompt_tokens or 0),
        completion_tokens=int(usage.completion_tokens or 0),
    )


def _add_schema(
    kwargs: dict[str, Any],
    schema: OutputSchema,
    messages: list[Message],
    info: ProviderInfo,
    *,
    self_hosted: bool,
) -> list[Message]:
    if info.supports_schema:
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": _SCHEMA_NAME.sub("_", schema.name)[:64] or "output",
                "schema": _strict(schema),
                "strict": True,
            },
        }
        return messages
    # No native schemas: ask for JSON and state the schema in the system message.
    if "response_format" in info.params:
        kwargs["response_format"] = {"type": "json_object"}
        if self_hosted:  # llama.cpp servers turn this into a grammar; others ignore it
            kwargs["response_format"]["schema"] = schema.json_schema
    instruction = SCHEMA_INSTRUCTION + json.dumps(schema.json_schema)
    if messages and messages[0].role == "system":
        first = Message(role="system", content=f"{messages[0].content}\n\n{instruction}")
        return [first, *messages[1:]]
    return [Message(role="system", content=instruction), *messages]


def _strict(schema: OutputSchema) -> dict[str, Any]:
    """The schema in OpenAI's strict form (closed objects, every property required)."""
    try:
        from openai.lib._pydantic import _ensure_strict_json_schema, to_strict_json_schema

        if schema.model is not None:
            return to_strict_json_schema(schema.model)
        copied = copy.deepcopy(schema.json_schema)
        return _ensure_strict_json_schema(copied, path=(), root=copied)
    except Exception:  # the private SDK helper moved or refused the schema: send it as written
        return schema.json_schema
