"""Drafting with a smaller model that shares the target's vocabulary.

The drafter keeps its own KV cache in step with the generation: each proposal first brings it
up to the current context (reusing the longest cached prefix, so accepted draft tokens are not
decoded again), then decodes greedily, or samples from its own filtered distribution when the
target samples (the decoder then applies the ``min(1, p/q)`` rule). Drafting stops early when
the drafter itself is unsure: a token it gives less than ``stop_below`` is a token the target
will likely reject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.errors import UserError
from collab.speculative.context import Context, fingerprint
from collab.speculative.draft_sources import EMPTY, Draft, DraftClock, DraftRequest
from collab.speculative.verify import Distribution

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from collab.models.local import LocalModel

__all__ = ["DraftModel"]


@dataclass(frozen=True)
class DraftModel:
    """A draft model with the target's vocabulary (a smaller sibling, or ``skip_layers``)."""

    model: LocalModel
    stop_below: float = 0.3
    """Stop drafting at a token the drafter gives less probability than this (0: never)."""

    @property
    def name(self) -> str:
        return f"draft-model:{self.model.name}"

    @property
    def free(self) -> bool:
        return False

    def session(self, request: DraftRequest) -> DraftModelSession:
        with self.model.hold() as llm:
            mine = (llm.n_vocab(), fingerprint(llm))
        if mine != (request.vocab.n_vocab, request.vocab.fingerprint):
            raise UserError(
                f"draft model {self.model.name!r} does not share the target's vocabulary "
                f"({mine[0]} tokens against {request.vocab.n_vocab})",
                hint="use CrossVocabDraft(model) for a drafter with another tokenizer",
            )
        return DraftModelSession(self, request)


class DraftModelSession:
    """One generation's drafting on the draft model's context."""

    def __init__(self, source: DraftModel, request: DraftRequest) -> None:
        self._model = source.model
        self._stop_below = source.stop_below
        self._request = request
        self._vocab_eog = request.vocab.is_eog
        self._clock = DraftClock()

    @property
    def cost_per_token(self) -> float:
        return self._clock.per_token

    def propose(self, context: Sequence[int], limit: int) -> Draft:
        if limit <= 0:
            return EMPTY
        self._clock.start()
        request = self._request
        sampler, rng = request.sampler, request.rng
        tokens: list[int] = []
        dists: list[Distribution] = []
        with self._model.hold() as llm:
            ctx = Context(llm)
            if len(context) + limit > ctx.n_ctx:
                return EMPTY
            row = ctx.prefill(context)
            self._clock.synced()
            for i in range(limit):
                if sampler is None:
                    token = int(row.argmax())
                    confidence = top_probability(row)
                else:
                    assert rng is not None
                    q = sampler.distribution(row)
                    token = q.sample(float(rng.random()))
                    confidence = q.prob(token)
                    dists.append(q)
                tokens.append(token)
                if i + 1 == limit or confidence < self._stop_below or self._vocab_eog(token):
                    break
                row = ctx.decode([token])[0]
        self._clock.stop(len(tokens))
        return Draft(tokens, kind="draft", dists=dists if sampler is not None else None)

    def close(self) -> None:
        pass


def top_probability(row: NDArray[np.float32]) -> float:
    """The softmax probability of the largest logit."""
    import numpy as np

    shifted = row - row.max()
    return float(1.0 / np.exp(shifted, dtype=np.float64).sum())
