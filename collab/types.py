"""Data that crosses module boundaries: messages, usage, completions, prices."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from collab.errors import PromptError, UserError

__all__ = [
    "Completion",
    "Message",
    "ModelKind",
    "ModelPrice",
    "Prompt",
    "SpeculationStats",
    "ToolCall",
    "Usage",
]

ModelKind = Literal["local", "remote", "scripted"]
"""Where a model runs: in-process (local), over HTTP (remote), or from a script (tests)."""


class ToolCall(BaseModel):
    """One call of a tool that a model asked for."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The call's id; a tool result answers it with the same ``tool_call_id``."""
    name: str
    """The tool's name."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The arguments, parsed from JSON (empty when they did not parse)."""
    arguments_text: str = ""
    """The arguments exactly as the model wrote them (JSON text)."""
    error: str | None = None
    """Why the call is invalid (unknown tool, arguments not JSON or not matching the tool's
    parameters), so a caller can ask the model to repair it; ``None`` when it is valid."""

    @property
    def valid(self) -> bool:
        return self.error is None

    def to_openai(self) -> dict[str, Any]:
        """The call in OpenAI's ``tool_calls`` form (arguments as a JSON string)."""
        text = self.arguments_text or json.dumps(self.arguments)
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": text},
        }

    @classmethod
    def from_openai(cls, call: dict[str, Any]) -> ToolCall:
        """A call from OpenAI's form (``{"id", "function": {"name", "arguments"}}``); arguments
        that are not a JSON object are kept as text with ``error`` set."""
        function = call.get("function") or {}
        raw = function.get("arguments")
        text = raw if isinstance(raw, str) else json.dumps(raw if raw is not None else {})
        try:
            parsed = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            return cls(
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments_text=text,
                error=f"arguments are not valid JSON ({exc.msg} at char {exc.pos})",
            )
        if not isinstance(parsed, dict):
            return cls(
                id=str(call.get("id") or ""),
                name=str(function.get("name") or ""),
                arguments_text=text,
                error=f"arguments must be a JSON object, got {type(parsed).__name__}",
            )
        return cls(
            id=str(call.get("id") or ""),
            name=str(function.get("name") or ""),
            arguments=parsed,
            arguments_text=text,
        )


class Message(BaseModel):
    """One chat message: text, an assistant's tool calls, or a tool's result.

    A tool result has ``role="tool"``, the ``tool_call_id`` it answers and, optionally, the
    tool's ``name``. Dicts in OpenAI's message form (``tool_calls`` with JSON-string arguments,
    ``content: None``) validate into a ``Message``; ``to_dict`` gives that form back.
    """

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """The tools an assistant message called."""
    tool_call_id: str | None = None
    """On a tool result: the id of the call it answers."""
    name: str | None = None
    """On a tool result: the tool's name."""

    @field_validator("content", mode="before")
    @classmethod
    def _no_content(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _openai_calls(cls, value: Any) -> Any:
        if value is None:
            return ()
        return [
            ToolCall.from_openai(c) if isinstance(c, dict) and "function" in c else c for c in value
        ]

    def to_dict(self) -> dict[str, Any]:
        """The message as an OpenAI / LiteLLM message dict."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
            if not self.content:
                out["content"] = None
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


Prompt = str | list[Message] | list[dict[str, Any]]
"""A plain string, or a list of chat messages (``Message`` or OpenAI-style message dicts)."""


class Usage(BaseModel):
    """Token counts of one call."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    """Counted by collab (the model's tokenizer, with a margin on the prompt), not reported by
    the provider: a server that answers without usage is billed this, never 0."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Completion(BaseModel):
    """The result of one model call."""

    text: str
    """The generated text."""
    model: str
    """The model that produced it (catalog name, path stem, or LiteLLM model string)."""
    kind: ModelKind
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    """Wall time of the call, in seconds, retries included."""
    cost_usd: float | None = 0.0
    """Price of the call in US dollars; ``None`` when the price is unknown."""
    finish_reason: str | None = None
    parsed: Any = None
    """The validated object when the call had a ``schema``."""
    retries: int = 0
    """How many times the call was retried after a retryable failure."""
    cache_hit: bool = False
    """Whether the answer came from a cache rather than the model (then nothing was billed)."""
    cost_note: str | None = None
    """Why ``cost_usd`` is what it is when it is not from a price map (e.g. "unknown price")."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """The tools the model called (when the call offered ``tools``); invalid calls are kept,
    with ``error`` set, so a caller can ask for a repair."""

    def message(self) -> Message:
        """The reply as an assistant ``Message`` (text and tool calls), to append to a chat."""
        return Message(role="assistant", content=self.text, tool_calls=tuple(self.tool_calls))


_ROLES = ("system", "user", "assistant", "tool")


def normalize_messages(prompt: Prompt) -> list[Message]:
    """Turn any ``Prompt`` into a list of ``Message``; a string becomes one user message.
    ``PromptError`` names what is wrong: the prompt's type, a message's role or content, or
    text that is not valid Unicode (a lone surrogate cannot be encoded to send or tokenise)."""
    if isinstance(prompt, str):
        messages = [Message(role="user", content=prompt)]
    elif isinstance(prompt, list | tuple):
        messages = [_message(m, i) for i, m in enumerate(prompt)]
    else:
        raise PromptError(
            f"prompt must be a string or a list of messages, got {type(prompt).__name__}: "
            f"{prompt!r:.80}",
            hint='pass "text" or [{"role": "user", "content": "text"}]',
        )
    for i, message in enumerate(messages):
        _check_text(message.content, f"message {i}" if not isinstance(prompt, str) else "prompt")
    return messages


def _message(item: object, index: int) -> Message:
    if isinstance(item, Message):
        return item
    if not isinstance(item, dict):
        raise PromptError(
            f"message {index} must be a Message or a dict, got {type(item).__name__}: {item!r:.80}",
            hint='pass {"role": "user", "content": "text"}',
        )
    role, content = item.get("role"), item.get("content")
    if role not in _ROLES:
        raise PromptError(
            f"message {index} has role {role!r:.40}, not one of {', '.join(_ROLES)}",
            hint="use 'system', 'user', 'assistant' or 'tool'",
        )
    if content is None and (item.get("tool_calls") or role == "tool"):
        content = ""  # an assistant's tool calls, or an empty tool result, carry no text
    if not isinstance(content, str):
        raise PromptError(
            f"message {index} content must be a string, got {type(content).__name__}",
            hint="put the text of the message in 'content'",
        )
    try:
        return Message.model_validate({**item, "content": content})
    except ValidationError as exc:
        raise PromptError(
            f"message {index} is not a valid message: {exc.errors()[0]['msg']}",
            hint="tool calls need an id, a function name and JSON arguments",
        ) from None


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PromptError(
            f"{where} is not valid Unicode: {exc.reason} at character {exc.start} "
            f"({text[exc.start : exc.end]!r})",
            hint="remove lone surrogates, e.g. text.encode('utf-8', 'replace').decode()",
        ) from None


def messages_as_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as the plain dicts that OpenAI-style APIs take."""
    return [m.to_dict() for m in messages]


class SpeculationStats(BaseModel):
    """Counters of one speculative generation (one ``complete`` or one stream)."""

    model_config = ConfigDict(frozen=True)

    source: str
    """The draft source: "prompt-lookup", "draft-model:<name>", "cross-vocab:<name>"."""
    tokens: int = 0
    """Tokens generated (as the target would have, one by one)."""
    drafted: int = 0
    """Draft tokens the target verified."""
    accepted: int = 0
    """Draft tokens the target confirmed."""
    target_decodes: int = 0
    """Target forward passes (plain decoding needs one per token)."""
    speculated: int = 0
    """Target decodes that carried a draft (the others decoded one token, as plain does)."""
    max_batch: int = 0
    """Largest verification batch allowed (llama.cpp's kernels are bit-identical up to it)."""
    decode_s: float = 0.0
    """Seconds spent in target decodes and drafting."""
    est_speedup: float | None = None
    """Estimated time of plain decoding of the same tokens over ``decode_s`` (from the
    measured cost of a one-token decode on this machine); ``None`` before it is known."""

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted over drafted draft tokens; ``None`` when nothing was drafted."""
        return self.accepted / self.drafted if self.drafted else None

    @property
    def tokens_per_decode(self) -> float | None:
        """Tokens per target forward pass (1.0 is plain decoding)."""
        return self.tokens / self.target_decodes if self.target_decodes else None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """What a model costs, in US dollars per million tokens."""

    input_per_mtok_usd: float
    """Price of one million prompt tokens."""
    output_per_mtok_usd: float
    """Price of one million completion tokens."""

    def __post_init__(self) -> None:
        for field, value in (
            ("input_per_mtok_usd", self.input_per_mtok_usd),
            ("output_per_mtok_usd", self.output_per_mtok_usd),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise UserError(
                    f"ModelPrice.{field} must be a finite number >= 0, got {value!r}",
                    hint="prices are US dollars per million tokens, e.g. 0.15",
                )

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of a call with these token counts."""
        return (
            prompt_tokens * self.input_per_mtok_usd + completion_tokens * self.output_per_mtok_usd
        ) / 1_000_000
