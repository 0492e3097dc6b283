"""How ``LocalModel`` generates: argument checks, sampler settings, and the streaming loop."""

from __future__ import annotations

import codecs
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from collab.errors import UserError
from collab.models.call_args import check_max_tokens

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["SAMPLING", "StreamStats", "check_sampling", "eog_checker", "generate_deltas"]


class Sampling(TypedDict):
    top_k: int
    top_p: float
    min_p: float
    typical_p: float
    repeat_penalty: float


SAMPLING: Sampling = {
    "top_k": 40,
    "top_p": 0.95,
    "min_p": 0.05,
    "typical_p": 1.0,
    "repeat_penalty": 1.0,
}
"""Sampler settings for every call: llama-cpp-python's ``create_completion`` defaults, so
streamed and non-streamed calls sample alike (only the temperature varies)."""


def check_sampling(max_tokens: int, temperature: float, stop: list[str] | str | None) -> list[str]:
    """Validate generation arguments; returns ``stop`` as a list. Raises ``UserError``."""
    check_max_tokens(max_tokens)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise UserError(
            f"temperature must be a number >= 0, got {temperature!r}",
            hint="0 is greedy (deterministic); 0.7 is a common sampling value",
        )
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if not isinstance(s, str) or not s:
            raise UserError(
                f"stop strings must be non-empty strings, got {s!r}", hint='pass e.g. ["\\n\\n"]'
            )
    return stops


@dataclass
class StreamStats:
    """What a finished stream reports; filled in by the worker."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


def generate_deltas(
    llm: Llama,
    tokens: list[int],
    *,
    max_tokens: int,
    temperature: float,
    stop: list[str],
    seed: int,
    stats: StreamStats,
    is_eog: Callable[[int], bool],
    source: Iterator[int] | None = None,
) -> Iterator[str]:
    """Text deltas of one completion of ``tokens``; the caller holds the model's gate.

    Same sampler, stop rules and text as ``Llama.create_completion``; text that could be the
    start of a stop string is held back until it is known not to be one. ``source`` replaces
    llama.cpp's own token loop (a speculative decoder); it is closed when the text ends.
    """
    max_tokens = min(max_tokens, llm.n_ctx() - len(tokens))
    stop_bytes = [s.encode("utf-8") for s in stop]
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
    stats.prompt_tokens = len(tokens)
    completion: list[int] = []
    text = b""
    sent = 0  # bytes of `text` already handed to the decoder
    end: int | None = None  # where the final text ends, once known
    if source is None:
        llm.set_seed(seed)
        source = llm.generate(tokens, temp=temperature, **SAMPLING)
    try:
        for token in source:
            if is_eog(token):
                stats.finish_reason = "stop"
                break
            completion.append(token)
            text += llm.detokenize([token])
            found = [s for s in stop_bytes if s in text]
            if found:
                end = text.index(found[0])
                stats.finish_reason = "stop"
                break
            if len(completion) >= max_tokens:
                stats.finish_reason = "length"
                break
            held = max((_partial_stop(text, s) for s in stop_bytes), default=0)
            if len(text) - held > sent:
                delta = decoder.decode(text[sent : len(text) - held])
                sent = len(text) - held
                if delta:
                    yield delta
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # a speculative decoder restores the context's bookkeeping here
    stats.completion_tokens = len(completion)
    rest = decoder.decode(text[sent:end], final=True)
    if rest:
        yield rest


def eog_checker(llm: Llama) -> Callable[[int], bool]:
    """Whether a token ends generation (end of sequence, end of turn, ...) for ``llm``."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))


def _partial_stop(text: bytes, stop: bytes) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``stop``."""
    for n in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0
