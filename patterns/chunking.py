"""Cutting documents into chunks a small model can read: whole sentences, a token limit, overlap.

    chunks = chunk_text(text, doc_id="manual", max_tokens=200, overlap_tokens=40,
                        count_tokens=slm.count_tokens)

Sentences are kept whole and packed into a chunk until the next one would pass
``max_tokens``; the next chunk starts with the last sentences of the previous one, up to
``overlap_tokens``, so a fact that straddles a boundary is read whole by one of them. A single
sentence longer than ``max_tokens`` is cut by words. ``count_tokens`` is the reading model's
tokenizer (a chunk sized for it fits its context); the default counts words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from collab.errors import UserError

__all__ = ["Chunk", "TokenCounter", "chunk_text", "split_sentences"]

TokenCounter = Callable[[str], int]
"""``text -> its token count`` (a model's ``count_tokens``)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


class Chunk(BaseModel):
    """One piece of one document."""

    model_config = ConfigDict(frozen=True)

    id: str
    """``"{doc_id}#{index}"``: stable while the document does not change."""
    doc_id: str
    index: int
    """The chunk's position in its document, from 0."""
    text: str


def split_sentences(text: str) -> list[str]:
    """``text``'s sentences: split after ".", "!" or "?" and at blank lines; empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _word_count(text: str) -> int:
    return len(text.split())


def chunk_text(
    text: str,
    *,
    doc_id: str,
    max_tokens: int = 200,
    overlap_tokens: int = 40,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """``text`` in chunks of whole sentences of at most ``max_tokens`` (see the module doc)."""
    if max_tokens <= 0 or not 0 <= overlap_tokens < max_tokens:
        raise UserError(
            f"chunking needs max_tokens > overlap_tokens >= 0, got max_tokens={max_tokens}, "
            f"overlap_tokens={overlap_tokens}",
            hint="e.g. max_tokens=200, overlap_tokens=40",
        )
    count = count_tokens or _word_count
    pieces: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        n = count(sentence)
        if n <= max_tokens:
            pieces.append((sentence, n))
        else:
            pieces.extend(_cut_by_words(sentence, max_tokens, count))
    texts: list[str] = []
    current: list[tuple[str, int]] = []
    for piece in pieces:
        if current and sum(n for _, n in current) + piece[1] > max_tokens:
            texts.append(" ".join(s for s, _ in current))
            current = _tail(current, overlap_tokens, room=max_tokens - piece[1])
        current.append(piece)
    if current:
        texts.append(" ".join(s for s, _ in current))
    return [Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, index=i, text=t) for i, t in enumerate(texts)]


def _tail(pieces: list[tuple[str, int]], overlap: int, *, room: int) -> list[tuple[str, int]]:
    """The last pieces of a chunk, at most ``overlap`` tokens and leaving the next one room."""
    kept: list[tuple[str, int]] = []
    total = 0
    for piece in reversed(pieces):
        if total + piece[1] > min(overlap, room):
            break
        kept.insert(0, piece)
        total += piece[1]
    return kept


def _cut_by_words(sentence: str, max_tokens: int, count: TokenCounter) -> list[tuple[str, int]]:
    cut: list[tuple[str, int]] = []
    words: list[str] = []
    for word in sentence.split():
        if words and count(" ".join([*words, word])) > max_tokens:
            text = " ".join(words)
            cut.append((text, count(text)))
            words = []
        words.append(word)
    if words:
        text = " ".join(words)
        cut.append((text, count(text)))
    return cut
