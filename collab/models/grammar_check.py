"""Grammar-constrained decoding that costs little more than free decoding.

llama-cpp-python puts the grammar sampler in the chain, so every token masks the whole
vocabulary against the grammar (about as long as a forward pass of a 0.5B model). Here the
token is chosen first and checked alone; only when the grammar rejects it is the vocabulary
masked and the token chosen again (what llama.cpp's own ``common_sampler`` does). The result
is the same as masking first: greedily, a token the grammar allows is the one masking would
pick; sampled, drawing p(t) and redrawing from the masked distribution on rejection gives
p(t) + (1 - Z) p(t) / Z = p(t) / Z for an allowed t (Z the allowed mass), the masked
distribution itself.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from collab.errors import SchemaError

if TYPE_CHECKING:
    from llama_cpp import Llama
    from numpy.typing import NDArray

__all__ = ["CheckedGrammar", "constrained_tokens"]

_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class CheckedGrammar:
    """A llama.cpp grammar sampler used as a checker; ``triggers`` make it lazy (inactive until
    one of these regexes matches the generated text, from its first group or match on)."""

    def __init__(self, llm: Llama, gbnf: str, *, triggers: Sequence[str] = ()) -> None:
        import llama_cpp

        self._lib = llama_cpp
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        if triggers:
            patterns = (ctypes.c_char_p * len(triggers))(*(t.encode() for t in triggers))
            no_tokens = (llama_cpp.llama_token * 0)()
            sampler = llama_cpp.llama_sampler_init_grammar_lazy_patterns(
                vocab, gbnf.encode(), b"root", patterns, len(triggers), no_tokens, 0
            )
        else:
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        if not sampler:
            raise SchemaError(
                "llama.cpp could not parse the tool-call grammar",
                hint="simplify the tools' parameter schemas",
            )
        self._sampler = sampler
        self.n_vocab = llm.n_vocab()
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(self._one, 1, -1, False)
        self._all = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
        self._all["id"] = np.arange(self.n_vocab, dtype=np.int32)
        pointer = self._all.ctypes.data_as(llama_cpp.llama_token_data_p)
        self._all_array = llama_cpp.llama_token_data_array(pointer, self.n_vocab, -1, False)
        self.rejections = 0
        """Tokens the grammar rejected (each cost one full-vocabulary mask)."""

    def allows(self, token: int) -> bool:
        """Whether the grammar accepts ``token`` next."""
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._one_array.size = 1
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return not math.isinf(self._one[0].logit)

    def mask(self, logits: NDArray[np.float32]) -> None:
        """Set the logits of every token the grammar rejects to -inf, in place."""
        self._all["logit"] = 0.0
        self._all_array.size = self.n_vocab
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._all_array))
        logits[np.isneginf(self._all["logit"])] = -np.inf

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        if self._sampler:
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


def constrained_tokens(
    llm: Llama,
    tokens: list[int],
    grammar: CheckedGrammar,
    *,
    temperature: float,
    seed: int,
    is_eog: object,
) -> Iterator[int]:
    """Tokens after ``tokens`` (the cached prefix reused), each one the grammar allows.

    Greedy at temperature 0; otherwise top-k 40 / min-p 0.05 sampling at ``temperature``.
    The caller holds the model's gate and stops the generator (end of generation, max tokens).
    """
    from collab.speculative.context import Context

    context = Context(llm)
    rng = np.random.default_rng(seed)
    logits = context.prefill(tokens)
    while True:
        token = _pick(logits, temperature, rng)
        if not grammar.allows(token):
            grammar.rejections += 1
            logits = np.array(logits, copy=True)
            grammar.mask(logits)
            token = _pick(logits, temperature, rng)
        grammar.accept(token)
        yield token
        if is_eog(token):  # type: ignore[operator]
            return
        logits = context.decode([token])[0]


def _pick(logits: NDArray[np.float32], temperature: float, rng: np.random.Generator) -> int:
    if temperature <= 0:
        return int(np.argmax(logits))
    top = np.argpartition(logits, -40)[-40:]
    scaled = logits[top].astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs[probs < 0.05 * probs.max()] = 0.0
    probs /= probs.sum()
    return int(top[rng.choice(len(top), p=probs)])
