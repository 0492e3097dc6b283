"""Saved prompt states, so a prompt sharing a long prefix with an earlier one skips its prefill.

llama.cpp keeps one prompt's values in its cache: asking about chunk 1, then chunk 2, then
chunk 1 again evaluates chunk 1 twice. ``PrefixStates`` keeps the cache's values for recent
long prompts (one sequence's keys and values, ``llama_state_seq_get_data``: no logits), up to
a byte budget, least recently used first out. ``stage_prompt`` restores the saved state that
shares the most whole chunks with a new prompt when that beats what the cache holds, and
evaluates only the rest. The values restored were staged as every prompt is (aligned chunks),
so greedy output is the same, token for token, as with a cold cache.

Use it where prompts repeat long prefixes out of order: map-reduce workers asked several
questions about the same chunks (``minions``), a judge or drafter that alternates between a
few long documents. ``LocalModel(prefix_cache_mb=...)`` turns it on.
"""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.errors import UserError
from collab.models.prompt_staging import _reusable

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["PrefixStates", "SavedPrefix", "prefix_states"]


@dataclass(frozen=True)
class SavedPrefix:
    """A prompt's tokens and the cache's values for them."""

    tokens: tuple[int, ...]
    data: bytes


class PrefixStates:
    """Saved cache states of prompts of at least ``min_tokens`` tokens, within
    ``capacity_bytes`` (least recently used out first). A prompt's state replaces the saved
    ones whose prefix it shares for the most part (the same chunk, another question after
    it), so one state per long prefix is kept. Counts what it did: ``saved``, ``restored`` and
    ``tokens_skipped`` (prefill a restore spared). One per model."""

    def __init__(self, capacity_bytes: int, *, min_tokens: int = 256) -> None:
        if capacity_bytes <= 0:
            raise ValueError(f"capacity_bytes must be positive, got {capacity_bytes}")
        self.capacity_bytes = capacity_bytes
        self.min_tokens = min_tokens
        self._saved: OrderedDict[tuple[int, ...], SavedPrefix] = OrderedDict()
        self._lock = threading.Lock()
        self.saved = 0
        self.restored = 0
        self.tokens_skipped = 0

    @property
    def bytes_held(self) -> int:
        with self._lock:
            return sum(len(s.data) for s in self._saved.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._saved)

    def best(self, head: Sequence[int], reusable: int) -> tuple[SavedPrefix, int] | None:
        """The saved prompt whose staged values ``head`` can reuse more of than ``reusable``
        (what the cache already offers), with how many positions it offers; or ``None``."""
        wanted = list(head)
        best, best_reuse = None, reusable
        with self._lock:
            for tokens, saved in self._saved.items():
                reuse = _reusable(list(tokens), wanted)
                if reuse > best_reuse:
                    best, best_reuse = saved, reuse
            if best is None:
                return None
            self._saved.move_to_end(best.tokens)
        return best, best_reuse

    def save(self, llm: Llama, head: Sequence[int]) -> None:
        """Keep the cache's values for ``head`` (the cache holds exactly ``head``), when it is
        long enough and fits the budget."""
        key = tuple(head)
        if len(key) < self.min_tokens:
            return
        with self._lock:
            if key in self._saved:
                self._saved.move_to_end(key)
                return
        data = _read_state(llm, self.capacity_bytes)
        if data is None:
            return
        with self._lock:
            for older in [t for t in self._saved if self._supersedes(head, t)]:
                del self._saved[older]
            self._saved[key] = SavedPrefix(key, data)
            self.saved += 1
            held = sum(len(s.data) for s in self._saved.values())
            while held > self.capacity_bytes and self._saved:
                _, evicted = self._saved.popitem(last=False)
                held -= len(evicted.data)

    def _supersedes(self, head: Sequence[int], older: tuple[int, ...]) -> bool:
        """Whether ``head`` offers most of ``older``'s prefix (the same chunk, another
        question after it), so keeping both would hold the chunk twice."""
        shared = _reusable(list(older), list(head))
        return shared >= self.min_tokens and 4 * shared >= 3 * len(older)

    def restore(self, llm: Llama, saved: SavedPrefix, *, spared: int = 0) -> bool:
        """Put ``saved``'s values in ``llm``'s cache (replacing what it held), counting
        ``spared`` positions of prefill saved; ``False`` when llama.cpp refused them (the
        cache is then empty)."""
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        if not _write_state(llm, saved.data):
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            llm.n_tokens = 0
            return False
        n = len(saved.tokens)
        llm.input_ids[:n] = saved.tokens
        llm.n_tokens = n
        with self._lock:
            self.restored += 1
            self.tokens_skipped += spared
        return True


def prefix_states(megabytes: float) -> PrefixStates | None:
    """``PrefixStates`` of ``megabytes`` MB, or ``None`` for 0 (no saved states)."""
    if isinstance(megabytes, bool) or not isinstance(megabytes, int | float) or megabytes < 0:
        raise UserError(
            f"prefix_cache_mb must be a number of megabytes >= 0, got {megabytes!r}",
            hint="pass prefix_cache_mb=256 to keep recent long prompts' states, or 0 for none",
        )
    return PrefixStates(int(megabytes * 2**20)) if megabytes else None


def _read_state(llm: Llama, limit: int) -> bytes | None:
    """Sequence 0's cached values (``None`` when empty, over ``limit`` bytes, or refused)."""
    import llama_cpp

    size = int(llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0))
    if size <= 0 or size > limit:
        return None
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, buffer, size, 0))
    return bytes(buffer)[:written] if written > 0 else None


def _write_state(llm: Llama, data: bytes) -> bool:
    """Load ``data`` (from ``_read_state``) as sequence 0's cached values."""
    import llama_cpp

    source = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    return int(llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, source, len(data), 0)) > 0
