"""A worker's finding with the excerpt's own words, checked against the excerpt: no model call.

A small worker asked what its excerpt says about something often answers from nowhere: a
plausible section title, a date it half remembers. Asked to copy the words that say it
(``QuotedFinding.quote``, written as JSON under a grammar, so even a 0.5B model keeps the
form) beside its answer, it can be checked: the quote must be in the excerpt, word for word
(case, punctuation and spacing aside), or the finding is dropped. After MinionS' workers,
whose outputs carry a citation for the remote model to weigh.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

__all__ = ["QuotedFinding", "quote_in"]

MIN_QUOTE_WORDS = 3
"""A shorter quote ("15", "the Licensor") is found almost anywhere: it checks nothing."""


class QuotedFinding(BaseModel):
    """What a quoting worker replies: the excerpt's words that say it, and its answer."""

    model_config = ConfigDict(frozen=True)

    quote: str
    """Copied from the excerpt; empty when the excerpt has nothing for the task."""
    answer: str
    """The answer in a few words ("NONE" when the excerpt has nothing)."""


def quote_in(quote: str, text: str) -> bool:
    """Whether ``quote`` (``MIN_QUOTE_WORDS`` words or more) is in ``text`` word for word,
    ignoring case, punctuation and spacing; an ellipsis may join parts quoted separately."""
    words = _words(quote)
    if len(words) < MIN_QUOTE_WORDS:
        return False
    haystack = f" {' '.join(_words(text))} "
    parts = [p for p in re.split(r"\.\.\.|…", quote) if _words(p)]
    return all(f" {' '.join(_words(part))} " in haystack for part in parts)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())
