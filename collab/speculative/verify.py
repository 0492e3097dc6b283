"""Verification of a draft against the target's logits: greedy, and speculative sampling.

Greedy: a draft token is accepted while it is the target's argmax; the first mismatch is
replaced by the argmax, and a fully accepted draft earns the argmax after it. The output is
the target's greedy output, token for token.

Sampling (Leviathan et al., 2023; Chen et al., 2023): draft token ``x`` drawn from ``q`` is
accepted with probability ``min(1, p(x) / q(x))``; on rejection the token is drawn from the
residual ``max(0, p - q)`` normalised. Each output token is then distributed exactly as the
target's ``p``. A draft that is not sampled (prompt lookup, a re-tokenised text draft) is a
``q`` that puts all its mass on ``x``: accept with probability ``p(x)``, else draw from ``p``
without ``x``. ``p`` is the target's distribution after the same filters llama.cpp's sampler
chain applies (top-k, top-p, min-p, then temperature), so speculation changes nothing about
what is sampled, only how fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Distribution", "Sampler", "accept_greedy", "accept_sampled"]


@dataclass(frozen=True, slots=True)
class Distribution:
    """A sparse distribution over token ids: ``probs[i]`` is the probability of ``ids[i]``."""

    ids: NDArray[np.int64]
    probs: NDArray[np.float64]

    def prob(self, token: int) -> float:
        import numpy as np

        hit = np.flatnonzero(self.ids == token)
        return float(self.probs[hit[0]]) if len(hit) else 0.0

    def sample(self, u: float) -> int:
        """The token at quantile ``u`` (uniform in [0, 1))."""
        import numpy as np

        cumulative = np.cumsum(self.probs)
        index = int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
        return int(self.ids[min(index, len(self.ids) - 1)])


@dataclass(frozen=True, slots=True)
class Sampler:
    """llama.cpp's sampler chain as ``LocalModel`` configures it, as a distribution."""

    temperature: float
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05

    def distribution(self, logits: NDArray[np.float32]) -> Distribution:
        """The filtered, tempered distribution llama.cpp would sample from ``logits``."""
        import numpy as np

        n = logits.shape[0]
        if 0 < self.top_k < n:
            ids = np.argpartition(-logits, self.top_k - 1)[: self.top_k]
        else:
            ids = np.arange(n)
        values = logits[ids].astype(np.float64)
        order = np.argsort(-values, kind="stable")
        ids, values = ids[order], values[order]
        if self.top_p < 1.0:
            probs = np.exp(values - values[0])
            cumulative = np.cumsum(probs / probs.sum())
            keep = int(np.searchsorted(cumulative, self.top_p, side="left")) + 1
            ids, values = ids[:keep], values[:keep]
        if self.min_p > 0.0:
            keep = max(1, int(np.count_nonzero(values >= values[0] + math.log(self.min_p))))
            ids, values = ids[:keep], values[:keep]
        weights = np.exp((values - values[0]) / self.temperature)
        return Distribution(ids.astype(np.int64), weights / weights.sum())


def accept_greedy(rows: NDArray[np.float32], draft: Sequence[int]) -> tuple[int, int]:
    """How many draft tokens the target's argmax confirms, and the target's next token.

    ``rows[i]`` are the logits after the context and ``draft[:i]``; there are
    ``len(draft) + 1`` of them. Ties go to the lowest id, as llama.cpp's greedy sampler does.
    """
    for i, token in enumerate(draft):
        best = int(rows[i].argmax())
        if best != token:
            return i, best
    return len(draft), int(rows[len(draft)].argmax())


def accept_sampled(
    rows: NDArray[np.float32],
    draft: Sequence[int],
    sampler: Sampler,
    uniforms: NDArray[np.float64],
    draft_dists: Sequence[Distribution] | None = None,
) -> tuple[int, int]:
    """Speculative sampling: accepted count and the next token (a correction or a bonus).

    ``draft_dists[i]`` is the distribution ``draft[i]`` was sampled from; ``None`` means the
    draft is deterministic. ``uniforms`` holds ``2 * len(draft) + 1`` draws from U[0, 1).
    """
    for i, token in enumerate(draft):
        p = sampler.distribution(rows[i])
        p_x = p.prob(token)
        q_x = draft_dists[i].prob(token) if draft_dists is not None else 1.0
        if q_x > 0.0 and uniforms[2 * i] * q_x < p_x:  # u < p/q, without dividing
            continue
        residual = _residual(p, draft_dists[i] if draft_dists is not None else None, token)
        return i, residual.sample(float(uniforms[2 * i + 1]))
    last = sampler.distribution(rows[len(draft)])
    return len(draft), last.sample(float(uniforms[2 * len(draft)]))


def _residual(p: Distribution, q: Distribution | None, token: int) -> Distribution:
    """``max(0, p - q)`` normalised; ``q`` None is all mass on ``token``."""
    import numpy as np

    if q is None:
        keep = p.ids != token
        ids, mass = p.ids[keep], p.probs[keep]
    else:
        ids = np.union1d(p.ids, q.ids)
        p_all = np.zeros(len(ids))
        q_all = np.zeros(len(ids))
        p_all[np.searchsorted(ids, p.ids)] = p.probs
        q_all[np.searchsorted(ids, q.ids)] = q.probs
        mass = np.maximum(p_all - q_all, 0.0)
    total = float(mass.sum())
    if total <= 0.0:  # only reachable through rounding: p and q agree everywhere
        return p
    return Distribution(ids, mass / total)
