"""Tool calls whose values are all in the request but read it wrong, found with no model.

``ungrounded_argument`` asks whether each value is given; a small model also takes given values
and puts them in the wrong place. ``misread_argument`` finds three such misreadings, each
measured on BFCL to flag none of its expected calls: a route read backwards ("from Las Vegas to
Los Angeles" as start Los Angeles), one number given once filling two parameters ("dropped from
100 m" as height 100 *and* initial velocity 100), and a percentage in the wrong form (0.05 for a
parameter its docs call a percentage, 5 for one they call a decimal).
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
    (``None`` when none is found): a route backwards, a number given once used for two
    parameters, a percentage written as a fraction or the other way round (by the called
    tool's parameter docs, from ``tools``)."""
    schemas = parameter_docs(tools)
    readings: tuple[Reading, ...] = (_backwards_route, _number_used_twice, _percent_form)
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
