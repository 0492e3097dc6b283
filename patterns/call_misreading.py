"""Tool calls whose values are all in the request but read it wrong, found with no model.

``ungrounded_argument`` asks whether each value is given; a small model also takes given values
and puts them in the wrong place. ``misread_argument`` finds five such misreadings: a route
read backwards ("from Las Vegas to Los Angeles" as start Los Angeles), one number given once
filling two parameters ("dropped from 100 m" as height 100 *and* initial velocity 100), words
given once in two parameters ("C sharp major" as the key and "major" as the scale), a
percentage in the wrong form (0.05 for a parameter its docs call a percentage, 5 for one they
call a decimal), and a place without the region its docs' example shows ("Chicago" where they
give "e.g. San Francisco, CA"). On BFCL's expected calls (the 620 entries outside the fresh
sample of ``bench.tool_calling``) they flag 4: a number twice once, words twice three times (a
name holding a place: "Treaty of Lisbon" beside "Lisbon"); places written without the region
they flag 13 more, but BFCL accepts each with the region as well.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from collab.tools import ToolLike
from collab.types import ToolCall

from .call_grounding import _GIVEN_NUMBER, _WORD, _as_number, _leaves, _scaled, parameter_docs

__all__ = ["misread_argument"]

Reading = Callable[[ToolCall, str, Mapping[str, Any]], "str | None"]


def misread_argument(
    calls: Sequence[ToolCall], request: str, tools: Sequence[ToolLike] = ()
) -> str | None:
    """The first misreading of ``request`` in ``calls``, said so that a model can repair it
    (``None`` when none is found): a route backwards, a number or words given once used for
    two parameters, a percentage written as a fraction or the other way round, a place
    without the region of its docs' example (by the called tool's parameter docs, from
    ``tools``)."""
    schemas = parameter_docs(tools)
    readings: tuple[Reading, ...] = (
        _backwards_route,
        _number_used_twice,
        _words_used_twice,
        _percent_form,
        _place_form,
    )
    for call in calls:
        for reading in readings:
            error = reading(call, request, schemas.get(call.name, {}))
            if error is not None:
                return error
    return None


# "from Las Vegas to Los Angeles": where a route starts and ends, up to a preposition or a stop.
_ROUTE = re.compile(
    r"\bfrom\s+(?P<start>[^,.;?!]+?)\s+to\s+(?P<end>[^,.;?!]+?)"
    r"(?=\s+(?:in|on|at|for|this|next|by|via|with|during|and|using|within|before|after)\b"
    r"|[,.;?!]|$)",
    re.IGNORECASE,
)
_START = re.compile(r"(?:^|_)(?:start|origin|from|source|depart\w*|begin\w*)(?:$|_)", re.I)
_END = re.compile(r"(?:^|_)(?:end|destination|to|target|arriv\w*|dest)(?:$|_)", re.I)


def _backwards_route(call: ToolCall, request: str, _docs: Mapping[str, Any]) -> str | None:
    """A start parameter holding where the request's route ends, and an end parameter where
    it starts."""
    texts = {k: v for k, v in call.arguments.items() if isinstance(v, str) and v.strip()}
    starts = [k for k in texts if _START.search(_snake(k)) and not _END.search(_snake(k))]
    ends = [k for k in texts if _END.search(_snake(k)) and not _START.search(_snake(k))]
    for route in _ROUTE.finditer(request):
        begin, finish = route["start"].strip(), route["end"].strip()
        for start in starts:
            for end in ends:
                if (
                    _within(texts[start], finish)
                    and _within(texts[end], begin)
                    and not _within(texts[start], begin)
                ):
                    return (
                        f"{call.name}({start}={texts[start]!r}, {end}={texts[end]!r}): the "
                        f"request goes from {begin!r} to {finish!r}; swap them"
                    )
    return None


def _snake(name: str) -> str:
    """``startLocation`` as ``start_location``."""
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _within(value: str, phrase: str) -> bool:
    words = set(_WORD.findall(value.lower()))
    return bool(words) and words <= set(_WORD.findall(phrase.lower()))


def _number_used_twice(call: ToolCall, request: str, _docs: Mapping[str, Any]) -> str | None:
    """A nonzero number in more of the call's parameters than the request writes it."""
    given: dict[float, int] = {}
    for number in _GIVEN_NUMBER.finditer(request):
        for value in _scaled(number):
            given[abs(value)] = given.get(abs(value), 0) + 1
    users: dict[float, set[str]] = {}
    for name, value in call.arguments.items():
        for leaf in _leaves(value):
            if isinstance(leaf, int | float) and not isinstance(leaf, bool) and leaf != 0:
                users.setdefault(abs(float(leaf)), set()).add(name)
    for value, names in users.items():
        if len(names) > 1 and 0 < given.get(value, 0) < len(names):
            times = "once" if given[value] == 1 else f"{given[value]} times"
            return (
                f"{call.name}({', '.join(sorted(names))}): each is {value:g}, which the request "
                f"gives {times}; use it where the request means it"
            )
    return None


def _words_used_twice(call: ToolCall, request: str, _docs: Mapping[str, Any]) -> str | None:
    """A text value that is also a whole-word part of another of the call's text values, while
    the request writes it once ("C sharp major" as the key and "major" as the scale)."""
    texts = {k: _WORD.findall(v.lower()) for k, v in call.arguments.items() if isinstance(v, str)}
    lowered = request.lower()
    for part, words in texts.items():
        for whole, holder in texts.items():
            if not words or len(holder) <= len(words) or not _holds(holder, words):
                continue
            written = r"\W+".join(map(re.escape, words))
            if len(re.findall(rf"(?<![a-z0-9]){written}(?![a-z0-9])", lowered)) < 2:
                value, other = call.arguments[part], call.arguments[whole]
                return (
                    f"{call.name}({whole}={other!r}, {part}={value!r}): the request says "
                    f"{value!r} once; leave it out of {whole}"
                )
    return None


def _holds(words: list[str], part: list[str]) -> bool:
    """Whether ``part`` runs, word for word, somewhere in ``words``."""
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


_PERCENT_DOC = re.compile(r"percent|in %|\(%\)", re.IGNORECASE)
_DECIMAL_DOC = re.compile(r"decimal|fraction|proportion|e\.g\.,? 0\.\d", re.IGNORECASE)


def _percent_form(call: ToolCall, request: str, docs: Mapping[str, Any]) -> str | None:
    """A percentage the request gives ("5%") passed as 0.05 to a parameter documented as a
    percentage, or as 5 to one documented as a decimal."""
    percents = [
        n
        for n in _GIVEN_NUMBER.finditer(request)
        if n["number"] and (n["scale"] or "").strip().lower() in ("%", "percent")
    ]
    for name, value in call.arguments.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        doc = str(docs.get(name, {}).get("description", ""))
        percent, decimal = bool(_PERCENT_DOC.search(doc)), bool(_DECIMAL_DOC.search(doc))
        if percent == decimal:
            continue
        for given in percents:
            written, number = given.group().strip(), _as_number(given["number"]) or 0.0
            if percent and number and abs(value - number / 100) < 1e-12:
                return (
                    f"{call.name}({name}={value!r}): {name} takes a percentage and the request "
                    f"gives {written!r}: pass {number:g}"
                )
            if decimal and number > 1 and value == number:
                return (
                    f"{call.name}({name}={value!r}): {name} takes a decimal and the request "
                    f"gives {written!r}: pass {number / 100:g}"
                )
    return None


# A documented example of a place with its region: "The city and state, e.g. San Francisco, CA".
_PLACE_EXAMPLE = re.compile(r"e\.g\.?,?\s*['\"]?(?P<example>[A-Z][\w .]*,\s*[A-Z]{2})\b")


def _place_form(call: ToolCall, _request: str, docs: Mapping[str, Any]) -> str | None:
    """A place without the region its parameter's docs show in their example ("Chicago" for
    a parameter documented "The city and state, e.g. San Francisco, CA")."""
    for name, value in call.arguments.items():
        if not isinstance(value, str) or not value.strip() or "," in value:
            continue
        example = _PLACE_EXAMPLE.search(str(docs.get(name, {}).get("description", "")))
        if example:
            return (
                f"{call.name}({name}={value!r}): {name} takes the form of its docs' example, "
                f"{example['example']!r}; add the region"
            )
    return None
