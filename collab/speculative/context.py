"""One llama.cpp context driven token by token: batch decode, logits rows, KV rollback.

``Context`` wraps a llama-cpp-python ``Llama`` and talks to llama.cpp's low-level API through
the ``Llama``'s own context and batch, keeping the ``Llama``'s bookkeeping (``input_ids``,
``n_tokens``) true to what its KV cache holds, so a plain ``create_completion`` afterwards
reuses the cached prefix as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from collab.models.prompt_staging import forget_from, stage_prompt, staged_tokens

if TYPE_CHECKING:
    import numpy as np
    from llama_cpp import Llama
    from numpy.typing import NDArray

__all__ = ["INVARIANT_CONTEXT", "INVARIANT_KV_TYPE", "Context", "DecodeError", "fingerprint"]

INVARIANT_KV_TYPE = 8
"""``GGML_TYPE_Q8_0``, the K-cache type speculative targets use (with flash attention).

llama.cpp's CPU flash attention switches kernels by shape when the K cache is F16 or F32: one
query row over 512+ cached tokens splits the keys across threads, many rows use a tiled
kernel. Either sums in a different order than the other, so a token decoded alone and the
same token decoded in a batch get logits that differ by up to ~1.5 (measured on SmolLM2).
With a Q8_0 K cache every shape takes the same per-row kernel, and batch verification is
bit-identical to one-token decoding: greedy speculation is then exactly lossless.
"""

INVARIANT_CONTEXT: dict[str, Any] = {"flash_attn": True, "type_k": INVARIANT_KV_TYPE}
"""llama-cpp-python ``Llama`` arguments of a speculative target's context. A plain ``Llama``
made with them decodes exactly as the speculative model does (the losslessness reference)."""


class DecodeError(RuntimeError):
    """``llama_decode`` failed (no KV slot, or aborted)."""


class Context:
    """A ``Llama``'s context, decoded batch by batch; the caller holds the model's lock."""

    def __init__(self, llm: Llama) -> None:
        self.llm = llm
        self.n_vocab: int = llm.n_vocab()
        self.n_ctx: int = llm.n_ctx()
        self.n_batch: int = llm.n_batch
        self._raw_batch = llm._batch.batch

    @property
    def n_past(self) -> int:
        """Tokens in the KV cache (positions ``0 .. n_past-1``)."""
        return int(self.llm.n_tokens)

    def tokens(self) -> list[int]:
        return [int(t) for t in self.llm.input_ids[: self.llm.n_tokens]]

    def prefill(self, tokens: Sequence[int]) -> NDArray[np.float32]:
        """Make the cache hold exactly ``tokens``; returns the logits after the last one.

        Staged as every plain completion is (``collab.models.prompt_staging``): all but the
        last token in aligned chunks, reusing whole cached chunks, then the last one alone; so
        the cache ends up bit-identical to the one a plain completion of ``tokens`` builds,
        cold or warm.
        """
        llm = self.llm
        tokens = [int(t) for t in tokens]
        if (
            llm.n_tokens == len(tokens)
            and not llm._requires_eval
            and staged_tokens(llm) == tokens[:-1]
            and self.tokens() == tokens
        ):
            return self.last_logits()  # the last decode was this very prompt
        stage_prompt(llm, tokens)
        llm.eval(tokens[-1:])
        return self.last_logits()

    def last_logits(self) -> NDArray[np.float32]:
        """A copy of the logits of the last decoded position that has them."""
        import numpy as np

        pointer = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()

    def decode(self, tokens: Sequence[int]) -> NDArray[np.float32]:
        """Append ``tokens`` (at most ``n_batch``) in one batch; logits for every one of them.

        Returns a view of llama.cpp's logits buffer, ``len(tokens) x n_vocab``: valid until
        the next decode.
        """
        import numpy as np

        n = len(tokens)
        start = self.llm.n_tokens
        if not 0 < n <= self.n_batch:
            raise ValueError(f"decode takes 1..{self.n_batch} tokens, got {n}")
        if start + n > self.n_ctx:
            raise DecodeError(f"{start + n} tokens do not fit the context of {self.n_ctx}")
        forget_from(self.llm, start)
        batch = self._raw_batch
        batch.n_tokens = n
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = start + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        import llama_cpp

        code = llama_cpp.llama_decode(self.llm._ctx.ctx, batch)
        if code != 0:
            raise DecodeError(f"llama_decode returned {code}")
        self.llm.input_ids[start : start + n] = tokens
        self.llm.n_tokens = start + n
        self.llm._requires_eval = False  # the last row is the last token's
        pointer = llama_cpp.llama_get_logits(self.llm._ctx.ctx)
        return np.ctypeslib.as_array(pointer, shape=(n, self.n_vocab))

    def truncate(self, n_keep: int) -> None:
        """Drop every cached position from ``n_keep`` on (KV rollback)."""
        if n_keep < self.llm.n_tokens:
            forget_from(self.llm, n_keep)
            if not self.llm._ctx.kv_cache_seq_rm(0, n_keep, -1):
                raise DecodeError(f"llama.cpp could not drop KV cells from {n_keep} on")
            self.llm.n_tokens = n_keep
            self.llm._requires_eval = True  # the last logits were a dropped position's

    def invalidate_logits(self) -> None:
        """Make the next plain completion decode before it samples (our last logits may
        belong to a rejected draft position)."""
        self.llm._requires_eval = True


_FINGERPRINT_TEXT = b"Hello, world! The quick brown fox: 12345."


def fingerprint(llm: Llama) -> tuple[int, ...]:
    """The token ids of a fixed text: models with the same vocabulary give the same ones."""
    return tuple(llm.tokenize(_FINGERPRINT_TEXT, add_bos=False, special=False))
