"""``LocalModel(..., speculative=...)``: the glue between a model and its speculative decoder.

A speculative model loads its context with flash attention and a Q8_0 K cache (see
``collab.speculative.context.INVARIANT_CONTEXT``: batch verification is then bit-identical
to one-token decoding), and generates through ``SpeculativeDecoder`` whenever no grammar
constrains the output (grammar-constrained calls decode plainly).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collab.models.local_generation import SAMPLING, StreamStats, eog_checker, generate_deltas
from collab.speculative.config import Speculative
from collab.speculative.context import INVARIANT_CONTEXT
from collab.speculative.decoder import SpeculativeDecoder, target_vocab
from collab.speculative.draft_sources import TargetVocab
from collab.speculative.engine import Tally
from collab.speculative.stats import SpeculativeCompletion
from collab.types import Completion, Prompt, Usage

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["SpeculativeCall", "SpeculativePath", "context_kwargs", "finished_completion"]


@dataclass(frozen=True, slots=True)
class SpeculativeCall:
    """What a drafter may use of one call besides its tokens."""

    prompt: Prompt | None
    raw: bool = False
    """``prompt`` is raw text to continue (no chat template)."""
    prediction: str | None = None
    """Text the output is expected to resemble, looked up like the prompt."""


def context_kwargs(
    settings: Speculative | None, *, batch_invariant: bool = False
) -> dict[str, Any]:
    """Extra llama-cpp-python arguments for a model's context: the batch-invariant settings
    for a speculative model, or a plain one asked to decode exactly as a speculative one."""
    return dict(INVARIANT_CONTEXT) if settings is not None or batch_invariant else {}


class SpeculativePath:
    """A model's speculative decoder and what it needs to start a generation."""

    def __init__(self, settings: Speculative, *, path: Path, n_threads: int) -> None:
        self.settings = settings
        key = (str(path), n_threads, tuple(sorted(INVARIANT_CONTEXT.items())))
        self.decoder = SpeculativeDecoder(settings, key=key)
        self._vocab: TargetVocab | None = None

    @property
    def source_name(self) -> str:
        return self.decoder.source.name

    def deltas(
        self,
        llm: Llama,
        tokens: list[int],
        stops: list[str],
        max_tokens: int,
        temperature: float,
        seed: int,
        stats: StreamStats,
        call: SpeculativeCall,
    ) -> tuple[Iterator[str], Tally]:
        """Text deltas of one generation and its live counters (the caller holds the gate)."""
        if self._vocab is None:
            self._vocab = target_vocab(llm)
        prediction = None
        if call.prediction:
            prediction = llm.tokenize(call.prediction.encode("utf-8"), add_bos=False, special=False)
        source, tally = self.decoder.start(
            llm,
            tokens,
            prompt=call.prompt,
            raw=call.raw,
            prediction=prediction,
            max_tokens=min(max_tokens, llm.n_ctx() - len(tokens)),  # as generate_deltas caps it
            temperature=temperature,
            top_k=SAMPLING["top_k"],
            top_p=SAMPLING["top_p"],
            min_p=SAMPLING["min_p"],
            seed=seed,
            vocab=self._vocab,
        )
        deltas = generate_deltas(
            llm,
            tokens,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stops,
            seed=seed,
            stats=stats,
            is_eog=eog_checker(llm),
            source=source,
        )
        return deltas, tally


def finished_completion(
    model: Any, text: str, stats: StreamStats, started: float, tally: Tally | None
) -> Completion:
    """The ``Completion`` of a generation that went through ``generate_deltas``: a
    ``SpeculativeCompletion`` when it was speculative (``tally`` given)."""
    fields: dict[str, Any] = {
        "text": text,
        "model": model.name,
        "kind": model.kind,
        "usage": Usage(
            prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens
        ),
        "latency_s": time.perf_counter() - started,
        "cost_usd": 0.0,
        "finish_reason": stats.finish_reason,
    }
    if tally is None:
        return Completion(**fields)
    return SpeculativeCompletion(**fields, speculation=tally.stats(stats.completion_tokens))
