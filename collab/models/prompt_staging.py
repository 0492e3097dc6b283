"""A prompt's greedy output is the same whether its tokens were cached or not.

llama.cpp computes a token's logits with kernels chosen by batch size, and on some weight
formats (K-quants here) a token decoded in one batch gets slightly different values than the
same token decoded in another. ``Llama.generate`` evaluates a cold prompt in one batch, but
on a cache hit evaluates only the uncached tail (at least the last token, alone), so the same
prompt could give two greedy outputs depending on what the model was asked before (measured
on Qwen2.5-Coder-1.5B Q4_K_M: a chat reply departed at token 28).

Every prompt is therefore staged the same way, cold or warm: all but its last token in
batches aligned at multiples of ``CHUNK`` positions, then the last token alone. A cached
prefix is reused only in whole chunks that were staged this way, so every position's values
come from the same batch, with the same tokens before it, whatever the cache held. Cost: a
cold prompt is evaluated in 64-token batches instead of 512 (about 10-17% slower prefill on
a 1.5B model here), and a warm one re-evaluates up to 63 tokens past its last whole chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

    from collab.models.prefix_states import PrefixStates

__all__ = ["CHUNK", "forget_from", "stage_prompt", "staged_tokens"]

CHUNK = 64
"""Prompt batches start at multiples of this many positions."""
_STAGED = "_collab_staged"
"""The ``Llama`` attribute holding the tokens whose cached values were staged in chunks."""


def stage_prompt(llm: Llama, tokens: Sequence[int], states: PrefixStates | None = None) -> None:
    """Make ``llm``'s cache hold exactly ``tokens[:-1]``, staged in aligned chunks (reusing
    what it can), so the next ``generate``/``create_completion`` of ``tokens`` decodes only
    the last token, alone. With ``states``, a saved earlier prompt that shares more whole
    chunks than the cache holds is restored first, and this prompt's state is saved. The
    caller holds the model's lock."""
    head = [int(t) for t in tokens[:-1]]
    staged = staged_tokens(llm)
    if staged == head and llm.n_tokens == len(head):
        return
    reuse = _reusable(staged, head)
    found = states.best(head, reuse) if states is not None else None
    if found is not None and states is not None:
        saved, shared = found
        restored = states.restore(llm, saved, spared=shared - reuse)
        setattr(llm, _STAGED, list(saved.tokens) if restored else [])
        reuse = shared if restored else 0
    if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
        llm.n_tokens = reuse
    else:
        llm.reset()  # type: ignore[no-untyped-call]
        reuse = 0
    start = reuse
    while start < len(head):
        end = min((start // CHUNK + 1) * CHUNK, len(head))
        llm.eval(head[start:end])
        start = end
    setattr(llm, _STAGED, head)
    llm._requires_eval = True  # the logits are not the prompt's: its last token decodes next
    if states is not None:
        states.save(llm, head)


def forget_from(llm: Llama, position: int) -> None:
    """Cache positions from ``position`` on are being rewritten outside ``stage_prompt``."""
    staged = getattr(llm, _STAGED, None)
    if staged is not None and len(staged) > position:
        setattr(llm, _STAGED, staged[:position])


def _reusable(staged: list[int], head: list[int]) -> int:
    """Leading positions of ``head`` whose staged values can be kept: all of them for the
    same head, else the whole chunks both share (a partial last chunk was a smaller batch)."""
    if staged == head:
        return len(head)
    common = 0
    for have, want in zip(staged, head, strict=False):
        if have != want:
            break
        common += 1
    return min(common // CHUNK, len(staged) // CHUNK) * CHUNK


def staged_tokens(llm: Llama) -> list[int]:
    """The staged tokens still in the cache (hooking ``llm`` on first use, so any other
    decode or state load forgets what it overwrites)."""
    staged: list[int] | None = getattr(llm, _STAGED, None)
    if staged is None:
        _hook(llm)
        return []
    held = min(len(staged), int(llm.n_tokens))
    cached = llm.input_ids[:held]
    for i in range(held):
        if int(cached[i]) != staged[i]:
            return staged[:i]
    return staged[:held]


def _hook(llm: Llama) -> None:
    evaluate, load_state = llm.eval, llm.load_state

    def eval_forgetting(tokens: Sequence[int]) -> Any:
        forget_from(llm, int(llm.n_tokens))
        return evaluate(tokens)

    def load_state_forgetting(state: Any) -> Any:
        setattr(llm, _STAGED, [])
        return load_state(state)

    llm.eval = eval_forgetting  # type: ignore[method-assign]
    llm.load_state = load_state_forgetting  # type: ignore[method-assign]
    setattr(llm, _STAGED, [])
