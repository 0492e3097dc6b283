"""Data that crosses module boundaries: messages, usage, completions, prices."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from collab.errors import UserError

__all__ = [
    "Completion",
    "Message",
    "ModelKind",
    "ModelPrice",
    "Prompt",
    "SpeculationStats",
    "Usage",
]

ModelKind = Literal["local", "remote", "scripted"]
"""Where a model runs: in-process (local), over HTTP (remote), or from a script (tests)."""


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str


Prompt = str | list[Message] | list[dict[str, str]]
"""A plain string, or a list of chat messages (``Message`` or ``{"role", "content"}`` dicts)."""


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


def normalize_messages(prompt: Prompt) -> list[Message]:
    """Turn any ``Prompt`` into a list of ``Message``; a string becomes one user message."""
    if isinstance(prompt, str):
        return [Message(role="user", content=prompt)]
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in prompt]


def messages_as_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as the plain dicts that OpenAI-style APIs take."""
    return [{"role": m.role, "content": m.content} for m in messages]


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
