"""Which verification batch sizes give logits bit-identical to one-token decoding, and what
each costs.

Greedy speculation is lossless only if the target scores a draft exactly as it would score
each token alone. llama.cpp's CPU kernels are chosen by shape: with flash attention and a
Q8_0 K cache attention is the same for every batch, but some weight types switch to a
different matrix kernel from some batch size on (on gemma-3-270m Q4_K_M: from 4 tokens with
the repacked weights, from 8 without; on SmolLM2 Q4_1: never). ``probe_batches`` finds out on
the loaded model, once per process, by decoding a probe both ways, and times the allowed sizes
so the draft schedule knows from its first step what a batch costs on this machine and format.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from collab.speculative.context import Context

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["BatchProbe", "candidate_sizes", "invariant_sizes", "probe_batches"]

_PROBE_TEXT = (
    b"Speculative decoding drafts several tokens and verifies them in one batch; "
    b"the numbers 3, 14, 159 and the word 'lossless' make a varied probe."
)
_HEAD = 8
"""Probe tokens evaluated first, as a prompt."""

_TIMED = (1, 2, 4, 8, 16, 32)
"""Batch sizes timed (those allowed); the schedule interpolates the others."""
_TIMING_ROUNDS = 4


class BatchProbe(NamedTuple):
    """What ``probe_batches`` found on one model."""

    sizes: tuple[int, ...]
    """Verification batch sizes allowed (ascending, from 1)."""
    rounds: tuple[dict[int, float], ...]
    """Seconds of a decode of each timed size (logits for every token), per timing round;
    each round times the sizes back to back, smallest first."""

    @property
    def seconds(self) -> dict[int, float]:
        """Median seconds of a decode of each timed size."""
        return {n: statistics.median(r[n] for r in self.rounds) for n in self.rounds[0]}


_cache: dict[tuple[object, ...], BatchProbe] = {}
_lock = threading.Lock()


def candidate_sizes(max_batch: int) -> list[int]:
    """Batch sizes tried: every one up to 8, then 12, 16, 24, 32 (up to ``max_batch``)."""
    sizes = [n for n in range(1, 9)] + [12, 16, 24, 32]
    return [n for n in sizes if n <= max_batch] or [1]


def invariant_sizes(ctx: Context, tail: Sequence[int], max_batch: int) -> list[int]:
    """The candidate sizes, up to the first whose logits for ``tail`` differ from decoding
    it token by token after what ``ctx`` holds (which it holds again on return)."""
    import numpy as np

    start = ctx.n_past
    singles = np.stack([ctx.decode([token])[0].copy() for token in tail[:max_batch]])
    allowed = [1]
    for n in candidate_sizes(max_batch)[1:]:
        ctx.truncate(start)
        if not np.array_equal(ctx.decode(tail[:n]), singles[:n]):
            break
        allowed.append(n)
    ctx.truncate(start)
    return allowed


def probe_batches(
    llm: Llama, max_batch: int, *, key: tuple[object, ...], exact: bool = True
) -> BatchProbe:
    """The candidate sizes up to the first one whose logits differ from one-token decoding
    (all of them up to ``max_batch`` when not ``exact``), and their costs.

    Decodes on ``llm``'s context (the caller holds its lock) and leaves its cache empty.
    Results are cached per ``key`` (model file, threads, context settings).
    """
    full_key = (*key, max_batch, exact)
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
    allowed = invariant_sizes(ctx, tail, max_batch) if exact else list(range(1, max_batch + 1))
    timed = [n for n in _TIMED if n <= allowed[-1]]
    if allowed[-1] not in timed:
        timed.append(allowed[-1])
    rounds: list[dict[int, float]] = []
    for _ in range(_TIMING_ROUNDS):
        rounds.append({})
        for n in timed:
            ctx.truncate(_HEAD)
            started = time.perf_counter()
            ctx.decode(tail[:n])
            rounds[-1][n] = time.perf_counter() - started
    llm.reset()  # type: ignore[no-untyped-call]
    ctx.invalidate_logits()
    result = BatchProbe(tuple(allowed), tuple(rounds))
    with _lock:
        _cache[full_key] = result
    return result
