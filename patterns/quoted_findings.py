"""A worker's finding with the excerpt's own words, checked against the excerpt: no model call.

A small worker asked what its excerpt says about something often answers from nowhere: a
plausible section title, a date it half remembers. Asked to copy the words that say it
(``QUOTE: ...``) before its answer (``ANSWER: ...``), it can be checked: the quote must be in
the excerpt, word for word (case, punctuation and spacing aside), or the finding is dropped.
After MinionS' workers, whose outputs carry a citation for the remote model to weigh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["QuotedFinding", "parse_quoted", "quote_in"]

MIN_QUOTE_WORDS = 3
"""A shorter quote ("15", "the Licensor") is found almost anywhere: it checks nothing."""

_LINE = re.compile(r"^\W*(?P<key>quote|answer)\s*:\s*(?P<value>.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class QuotedFinding:
    """What a worker replied: the words it copied and its answer (either may be empty)."""

    quote: str
    answer: str


def parse_quoted(output: str) -> QuotedFinding:
    """The ``QUOTE:`` and ``ANSWER:`` of a worker's reply (a value may run on over the next
    lines until the other key); a reply without them is all answer, with no quote."""
    found: dict[str, list[str]] = {}
    key: str | None = None
    for line in output.strip().splitlines():
        match = _LINE.match(line)
        if match is not None:
            key = match["key"].lower()
            found[key] = [match["value"]]
        elif key is not None:
            found[key].append(line)
    if not found:
        return QuotedFinding(quote="", answer=output.strip())
    quote, answer = (" ".join(found.get(k, [])).strip() for k in ("quote", "answer"))
    return QuotedFinding(quote=quote.strip(" \"'“”‘’"), answer=answer)


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
