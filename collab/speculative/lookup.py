"""Prompt lookup: draft by finding the current suffix earlier in the context, and copying on.

When an answer quotes, edits, extracts from or summarises its prompt, the tokens that followed
an earlier occurrence of the last few tokens are likely to come next (Saxena, 2023, "prompt
lookup decoding"). Among earlier occurrences the one that matches furthest back wins (the
passage being copied), the most recent on a tie. Drafting is a dictionary lookup, so it costs
nothing; the decoder verifies only as much of it as the acceptance rate makes worth it, and
tracks acceptance per match length: a 2-token match is a guess, a 16-token one is a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collab.errors import UserError
from collab.speculative.draft_sources import EMPTY, Draft, DraftRequest

__all__ = ["PromptLookup"]

_CANDIDATES = 8
"""Earlier occurrences kept per n-gram (the most recent ones)."""
_MATCH_CAP = 64
"""How far back a match is extended (to compare candidates, and to know its kind)."""
_KINDS = (
    (48, "lookup-48+"),
    (32, "lookup-32+"),
    (16, "lookup-16+"),
    (8, "lookup-8+"),
    (4, "lookup-4+"),
    (3, "lookup-3"),
    (2, "lookup-2"),
)
"""Kinds of draft by how far back the match goes: acceptance is tracked per kind."""


@dataclass(frozen=True)
class PromptLookup:
    """Drafts from n-gram matches in the prompt and the text generated so far."""

    min_ngram: int = 2
    """Shortest suffix looked up (1 drafts more often, and is wrong more often)."""

    def __post_init__(self) -> None:
        if isinstance(self.min_ngram, bool) or not (
            isinstance(self.min_ngram, int) and 1 <= self.min_ngram <= 8
        ):
            raise UserError(
                f"PromptLookup.min_ngram must be an integer from 1 to 8, got {self.min_ngram!r}",
                hint="the default, 2, suits most text",
            )

    @property
    def name(self) -> str:
        return "prompt-lookup"

    @property
    def free(self) -> bool:
        return True

    def session(self, request: DraftRequest) -> LookupSession:
        return LookupSession(self.min_ngram, prefix=request.prediction or ())


class LookupSession:
    """An index of the context's ``min_ngram``-grams, extended as tokens are generated.

    ``prefix`` (a predicted output) is indexed as if it came before the context.
    """

    cost_per_token = 0.0

    def __init__(self, min_ngram: int, prefix: Sequence[int] = ()) -> None:
        self._n = min_ngram
        # n-gram -> ends of its most recent occurrences that have a token after them
        self._index: dict[tuple[int, ...], list[int]] = {}
        self._prefix = list(prefix)
        self._tokens: list[int] = []

    def propose(self, context: Sequence[int], limit: int) -> Draft:
        self._extend([*self._prefix, *context] if self._prefix else context)
        tokens, n = self._tokens, self._n
        end = len(tokens)
        if end <= n:
            return EMPTY
        candidates = self._index.get(tuple(tokens[end - n :]))
        if not candidates:
            return EMPTY
        best, best_length = candidates[-1], 0
        for found in reversed(candidates):  # most recent first: it wins ties
            length = n
            while (
                length < _MATCH_CAP
                and found - length > 0
                and tokens[found - length - 1] == tokens[end - length - 1]
            ):
                length += 1
            if length > best_length:
                best, best_length = found, length
        continuation = tokens[best : min(best + limit, end)]
        if not continuation:
            return EMPTY
        kind = next((name for floor, name in _KINDS if best_length >= floor), "lookup-1")
        return Draft(continuation, kind=kind)

    def _extend(self, context: Sequence[int]) -> None:
        tokens = self._tokens
        if len(context) < len(tokens) or context[: len(tokens)] != tokens:
            tokens.clear()  # not an extension of what is indexed: start over
            self._index.clear()
        start = len(tokens)
        tokens.extend(context[start:])
        n, index = self._n, self._index
        # Index the n-grams that end where a continuation starts: ends up to len - 1.
        for end in range(max(start, n), len(tokens)):
            key = tuple(tokens[end - n : end])
            ends = index.get(key)
            if ends is None:
                index[key] = [end]
            else:
                ends.append(end)
                if len(ends) > _CANDIDATES:
                    del ends[0]

    def close(self) -> None:
        self._index.clear()
