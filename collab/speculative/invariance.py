"""Which verification batch sizes give logits bit-identical to one-token decoding.

Greedy speculation is lossless only if the target scores a draft exactly as it would score
each token alone. llama.cpp's CPU kernels are chosen by shape: with flash attention and a
Q8_0 K cache attention is the same for every batch, but some weight types switch to a
different matrix kernel from some batch size on (on gemma-3-270m Q4_K_M: from 4 tokens with
the repacked weights, from 8 without; on SmolLM2 Q4_1: never). ``exact_batch_sizes`` finds
out on the loaded model, once per process, by decoding a probe both ways.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from collab.speculative.context import Context

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["candidate_sizes", "exact_batch_sizes"]

_PROBE_TEXT = (
    b"Speculative decoding drafts several tokens and verifies them in one batch; "
    b"the numbers 3, 14, 159 and the word 'lossless' make a varied probe."
)
_HEAD = 8
"""Probe tokens evaluated first, as a prompt."""

_cache: dict[tuple[object, ...], tuple[int, ...]] = {}
_lock = threading.Lock()


def candidate_sizes(max_batch: int) -> list[int]:
    """Batch sizes tried: every one up to 8, then 12, 16, 24, 32 (up to ``max_batch``)."""
    sizes = [n for n in range(1, 9)] + [12, 16, 24, 32]
    return [n for n in sizes if n <= max_batch] or [1]


def exact_batch_sizes(llm: Llama, max_batch: int, *, key: tuple[object, ...]) -> tuple[int, ...]:
    """The candidate sizes up to the first one whose logits differ from one-token decoding.

    Decodes on ``llm``'s context (the caller holds its lock) and leaves its cache empty.
    Results are cached per ``key`` (model file, threads, context settings).
    """
    import numpy as np

    full_key = (*key, max_batch)
    with _lock:
        known = _cache.get(full_key)
    if known is not None:
        return known
    ctx = Context(llm)
    probe = llm.tokenize(_PROBE_TEXT, add_bos=True, special=False)
    while len(probe) < _HEAD + max_batch:
        probe += probe[1:]
    head, tail = probe[:_HEAD], probe[_HEAD : _HEAD + max_batch]
    llm.reset()  # type: ignore[no-untyped-call]
    ctx.prefill(head)
    singles = np.stack([ctx.decode([token])[0].copy() for token in tail])
    exact = [1]
    for n in candidate_sizes(max_batch)[1:]:
        ctx.truncate(_HEAD)
        if not np.array_equal(ctx.decode(tail[:n]), singles[:n]):
            break
        exact.append(n)
    llm.reset()  # type: ignore[no-untyped-call]
    ctx.invalidate_logits()
    result = tuple(exact)
    with _lock:
        _cache[full_key] = result
    return result
