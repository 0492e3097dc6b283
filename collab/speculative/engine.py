"""The speculative decoding loop on one llama.cpp context.

Each step decodes, in one batch, the token just chosen plus a draft of ``k`` tokens, with
logits at every position; verification keeps the longest confirmed prefix of the draft and
yields the target's own next token after it; the KV cells of rejected draft tokens are
dropped. A step with no draft is exactly a plain one-token decode.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collab.speculative.context import Context
from collab.speculative.draft_sources import DraftSession
from collab.speculative.schedule import CostModel, Schedule
from collab.speculative.stats import SpeculationStats
from collab.speculative.verify import Sampler, accept_greedy, accept_sampled

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Tally", "generate"]


@dataclass
class Tally:
    """Counters of one generation, filled in as it goes."""

    source: str
    max_batch: int
    tokens: int = 0
    drafted: int = 0
    accepted: int = 0
    target_decodes: int = 0
    speculated: int = 0
    decode_s: float = 0.0
    costs: CostModel = field(default_factory=CostModel)

    def stats(self, tokens: int | None = None) -> SpeculationStats:
        """The counters so far; ``tokens``: the caller's count of the tokens it kept (the
        decoder also counts an end-of-generation token and tokens past a stop string)."""
        single = self.costs.single
        speedup = None
        if single is not None and self.decode_s > 0 and self.tokens:
            # Plain decoding: one single-token decode per token after the first (which both
            # take from the prompt's logits).
            speedup = (self.tokens - 1) * single / self.decode_s if self.tokens > 1 else 1.0
        return SpeculationStats(
            source=self.source,
            tokens=self.tokens if tokens is None else tokens,
            drafted=self.drafted,
            accepted=self.accepted,
            target_decodes=self.target_decodes,
            speculated=self.speculated,
            max_batch=self.max_batch,
            decode_s=self.decode_s,
            est_speedup=speedup,
        )


def generate(
    ctx: Context,
    prompt: Sequence[int],
    *,
    session: DraftSession,
    free_drafts: bool,
    schedule: Schedule,
    batch_sizes: Sequence[int],
    max_tokens: int,
    sampler: Sampler | None,
    rng: np.random.Generator | None,
    tally: Tally,
) -> Generator[int, None, None]:
    """Tokens of one completion of ``prompt``, as the target would generate them.

    Greedy when ``sampler`` is None (token for token the target's greedy output), else
    speculative sampling with ``rng``. ``batch_sizes`` are the verification batch sizes
    allowed, ascending, starting at 1. The caller holds the context's lock, stops reading
    when it has what it needs, and may close the generator at any token.
    """
    allowed = sorted(set(batch_sizes))
    largest = allowed[-1]
    context = list(prompt)
    max_tokens = min(max_tokens, ctx.n_ctx - len(context))
    try:
        row = ctx.prefill(context)
        token = _pick(row, sampler, rng)
        while True:
            tally.tokens += 1
            yield token
            context.append(token)
            remaining = max_tokens - tally.tokens
            if remaining <= 0:
                return
            room = min(largest - 1, ctx.n_ctx - ctx.n_past - 1, remaining - 1)
            draft_tokens: list[int] = []
            draft_started = time.perf_counter()
            kind, dists = "", None
            if room > 0:
                limit = room if free_drafts else schedule.length(_COSTLY, room)
                if limit > 0:
                    draft = session.propose(context, limit)
                    kind, dists = draft.kind, draft.dists
                    k = schedule.length(kind, len(draft.tokens)) if free_drafts else limit
                    k = _fit(min(k, len(draft.tokens)), allowed)
                    draft_tokens = draft.tokens[:k]
            started = time.perf_counter()
            n_past = ctx.n_past
            rows = ctx.decode([token, *draft_tokens])
            if sampler is None:
                accepted, token = accept_greedy(rows, draft_tokens)
            else:
                assert rng is not None
                uniforms = rng.random(2 * len(draft_tokens) + 1)
                accepted, token = accept_sampled(rows, draft_tokens, sampler, uniforms, dists)
            ctx.truncate(n_past + 1 + accepted)
            finished = time.perf_counter()
            schedule.costs.observe(1 + len(draft_tokens), finished - started)
            tally.decode_s += finished - draft_started
            tally.target_decodes += 1
            if draft_tokens:
                schedule.observe(kind if free_drafts else _COSTLY, len(draft_tokens), accepted)
                tally.speculated += 1
                tally.drafted += len(draft_tokens)
                tally.accepted += accepted
                schedule.draft_seconds = session.cost_per_token
            for confirmed in draft_tokens[:accepted]:
                tally.tokens += 1
                yield confirmed
                context.append(confirmed)
    finally:
        ctx.invalidate_logits()
        session.close()


_COSTLY = "draft"
"""The acceptance kind of sources whose draft length is chosen before drafting."""


def _fit(k: int, allowed: Sequence[int]) -> int:
    """The longest draft not over ``k`` whose verification batch (``k + 1``) is allowed."""
    best = 0
    for size in allowed:
        if size - 1 <= k:
            best = size - 1
    return best


def _pick(
    row: NDArray[np.float32], sampler: Sampler | None, rng: np.random.Generator | None
) -> int:
    if sampler is None:
        return int(row.argmax())
    assert rng is not None
    return sampler.distribution(row).sample(float(rng.random()))
