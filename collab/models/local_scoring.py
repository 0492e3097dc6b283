"""Option scoring for ``LocalModel.score``: how likely each option is as the prompt's continuation.

Each option's log-probability is the sum of its tokens' log-probs under the model; the options'
probabilities are the softmax of those sums. The prompt is evaluated once and its KV cache is
shared by all options.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    from llama_cpp import Llama
    from numpy.typing import NDArray

__all__ = ["OptionScores", "check_options", "option_logprobs", "softmax", "split_shared_prefix"]


@dataclass(frozen=True, slots=True)
class OptionScores:
    """Scores of options as continuations of one prompt."""

    options: tuple[str, ...]
    logprobs: tuple[float, ...]
    """Natural-log probability of each option's text given the prompt (sum over its tokens)."""
    probs: tuple[float, ...]
    """Softmax of ``logprobs``: the model's choice among these options only; sums to 1."""
    n_tokens: tuple[int, ...]
    """How many tokens were scored for each option (its tokens, plus any prompt tokens that
    merged with it at the boundary)."""

    @property
    def best(self) -> str:
        """The most probable option (the first one on a tie)."""
        return self.options[max(range(len(self.probs)), key=self.probs.__getitem__)]


def check_options(options: Sequence[str]) -> list[str]:
    """The options as a list; raises ``UserError`` if there are none or one is not a non-empty
    string."""
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise UserError(
            f"options must be a list of strings, got {options!r:.100}",
            hint='pass e.g. ["yes", "no"]',
        )
    if not options:
        raise UserError("options is empty: nothing to score", hint='pass e.g. ["yes", "no"]')
    for option in options:
        if not isinstance(option, str) or not option:
            raise UserError(
                f"every option must be a non-empty string, got {option!r:.100}",
                hint="drop empty options; put shared leading text in the prompt",
            )
    return list(options)


def softmax(logprobs: Sequence[float]) -> list[float]:
    """Normalised probabilities from log-probabilities (stable: shifts by the maximum)."""
    top = max(logprobs)
    if top == -math.inf:  # every option impossible: nothing to prefer
        return [1.0 / len(logprobs)] * len(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def split_shared_prefix(
    prompt_tokens: Sequence[int], full_tokens: Sequence[Sequence[int]]
) -> tuple[list[int], list[list[int]]]:
    """Split each ``prompt + option`` tokenisation into a prefix shared by all and its tail.

    Tokenisers merge across the boundary (a prompt ending in a space and an option starting with
    a word become one " word" token), so ``tokens(prompt + option)`` need not start with
    ``tokens(prompt)``. The shared prefix is the longest one common to the prompt and every
    option; each tail then encodes the same leftover prompt text followed by its option, so tails
    compare fairly. Raises ``ValueError`` when nothing is shared (no token to condition on).
    """
    shared = len(prompt_tokens)
    for tokens in full_tokens:
        limit = min(shared, len(tokens))
        common = 0
        while common < limit and tokens[common] == prompt_tokens[common]:
            common += 1
        shared = common
    # A tail must hold at least one token: keep the shared prefix strictly shorter than every
    # sequence (it only matters if an option adds no tokens, which a non-empty option cannot).
    shared = min([shared, *(len(t) - 1 for t in full_tokens)])
    if shared < 1:
        raise ValueError("the prompt and the options share no leading token")
    return list(prompt_tokens[:shared]), [list(t[shared:]) for t in full_tokens]


def option_logprobs(llm: Llama, shared: list[int], tails: list[list[int]]) -> list[float]:
    """Sum of token log-probs of each tail after ``shared``, reusing the KV cache.

    The caller holds the model's gate. All but the last ``_OVERLAP`` shared tokens are evaluated
    once (reusing whatever prefix is already cached); each option then costs one decode of
    those last shared tokens plus its own, with logits at every position, after which its cells
    are dropped again.
    """
    import numpy as np

    # Decoding a single token takes a different kernel path than a batch, and its logits
    # differ in the last digits (about 0.1 nats on a Q4 model). Re-decoding the last two
    # shared tokens with every option keeps each decode a batch, so scores do not depend on
    # what was cached and match a cold evaluation of prompt + option.
    overlap = min(_OVERLAP, len(shared))
    trunk = shared[: len(shared) - overlap]
    cached = llm.input_ids[: llm.n_tokens].tolist()
    keep = 0
    while keep < min(len(cached), len(trunk)) and cached[keep] == trunk[keep]:
        keep += 1
    llm.n_tokens = keep
    llm.eval(trunk[keep:])  # drops cached cells past `keep`, then decodes the rest of the trunk
    n_vocab = llm.n_vocab()
    results: list[float] = []
    for tail in tails:
        sequence = shared[len(trunk) :] + tail
        inputs, targets = sequence[:-1], sequence[1:]
        total = 0.0
        # Llama.eval keeps only the last position's logits unless the whole context was created
        # with logits_all=True (n_ctx x n_vocab floats), so options are decoded directly on the
        # Llama's own context and batch.
        for start in range(0, len(inputs), llm.n_batch):
            chunk = inputs[start : start + llm.n_batch]
            llm._batch.set_batch(batch=chunk, n_past=len(trunk) + start, logits_all=True)
            llm._ctx.decode(llm._batch)
            pointer = llm._ctx.get_logits()  # type: ignore[no-untyped-call]
            logits = np.ctypeslib.as_array(pointer, shape=(len(chunk), n_vocab))
            picked = _log_softmax_at(logits, targets[start : start + len(chunk)])
            # Rows before the tail predict shared tokens, which are not part of the option.
            first_tail_row = max(overlap - 1 - start, 0)
            total += float(np.sum(picked[first_tail_row:]))
        llm._ctx.kv_cache_seq_rm(-1, len(trunk), -1)
        results.append(total)
    # The context's logits now belong to the last option, not to the trunk: make the next
    # generate() decode before it samples, even on an exact prompt-cache hit.
    llm._requires_eval = True
    return results


_OVERLAP = 2
"""Shared tokens decoded again with each option (see ``option_logprobs``)."""


def _log_softmax_at(logits: NDArray[np.float32], targets: list[int]) -> NDArray[np.float64]:
    """Row-wise log-softmax of ``logits`` (rows x vocab), picked at each row's target token."""
    import numpy as np

    rows = logits.astype(np.float64)
    top = rows.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
    picked: NDArray[np.float64] = rows[np.arange(len(targets)), targets] - log_norm
    return picked
