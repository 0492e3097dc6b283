"""The draft-source protocol: what the decoder asks a drafter, and what it gets back."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from collab.speculative.verify import Distribution, Sampler
from collab.types import Prompt

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Draft", "DraftClock", "DraftRequest", "DraftSession", "DraftSource", "TargetVocab"]


@dataclass(frozen=True, slots=True)
class Draft:
    """Proposed next tokens, in the target's vocabulary."""

    tokens: list[int]
    kind: str = "draft"
    """Acceptance is tracked per kind (e.g. the length of a prompt-lookup match)."""
    dists: list[Distribution] | None = None
    """For sampled drafts, the distribution each token was drawn from; ``None`` when the
    tokens are a deterministic function of the context."""


EMPTY = Draft([])


class DraftClock:
    """Seconds a model drafter spends per drafted token, smoothed across its drafts.

    ``start()`` before drafting, ``synced()`` once the drafter's context holds the prompt (the
    first prefill is paid once per generation, not per drafted token), ``stop(n)`` after.
    """

    decay = 0.7
    """Weight the previous estimate keeps at each draft."""

    def __init__(self) -> None:
        self.per_token = 0.0
        self._started = 0.0
        self._synced = False

    def start(self) -> None:
        self._started = time.perf_counter()

    def synced(self) -> None:
        if not self._synced:
            self._started, self._synced = time.perf_counter(), True

    def stop(self, tokens: int) -> None:
        if tokens:
            spent = (time.perf_counter() - self._started) / tokens
            previous = self.per_token
            self.per_token = (
                spent if not previous else self.decay * previous + (1 - self.decay) * spent
            )


@dataclass(frozen=True, slots=True)
class TargetVocab:
    """The target's tokenizer, for drafters that work in text."""

    tokenize: Callable[[bytes], list[int]]
    """Plain text to tokens: no BOS, special-token markup not parsed."""
    detokenize: Callable[[Sequence[int]], bytes]
    is_eog: Callable[[int], bool]
    end_of_turn: int | None
    """The token that ends an assistant turn (what a drafter's own end of turn maps to)."""
    n_vocab: int
    fingerprint: tuple[int, ...]
    """A few token ids of a fixed text: drafters with the same vocabulary give the same ones."""


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """One generation the decoder is about to run."""

    prompt_tokens: list[int]
    """What the target was prompted with, template included."""
    prompt: Prompt | None
    """The prompt as the caller gave it, for drafters that render it with their own chat
    template; ``None`` when only tokens are known."""
    raw: bool
    """Whether ``prompt`` is raw text to continue (no chat template)."""
    sampler: Sampler | None
    """The target's sampler; ``None`` for greedy decoding."""
    vocab: TargetVocab
    rng: np.random.Generator | None = field(default=None, compare=False)
    prediction: list[int] | None = None
    """Tokens the output is expected to resemble (a predicted output, e.g. an SLM's draft of
    an edit): prompt lookup searches them too."""


@runtime_checkable
class DraftSession(Protocol):
    """Drafting state for one generation."""

    @property
    def cost_per_token(self) -> float:
        """Seconds to draft one token (measured; 0 for drafts that cost nothing to make)."""
        ...

    def propose(self, context: Sequence[int], limit: int) -> Draft:
        """Up to ``limit`` tokens likely to follow ``context`` (prompt and every token
        generated so far). ``context`` only grows between calls, except that a session must
        cope with any context (it syncs its own state to it)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DraftSource(Protocol):
    """Where drafts come from: prompt lookup, a draft model, a cross-vocabulary drafter."""

    @property
    def name(self) -> str: ...

    @property
    def free(self) -> bool:
        """True when drafting costs (nearly) nothing: the decoder then asks for the longest
        draft and verifies only what pays; else it decides the length before drafting."""
        ...

    def session(self, request: DraftRequest) -> DraftSession: ...
