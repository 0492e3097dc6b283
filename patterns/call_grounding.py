"""Tool calls checked against the request they answer, with no model: grounded and complete.

A small model's tool calls are usually valid (the grammar sees to it) but often wrong in two
ways a schema cannot see: a value the request never gave (a unit, a default, a number from
nowhere), and a value the request gave that no call uses (it asked for two cities, the model
called once). ``ungrounded_argument`` finds the first (``tool_caller.grounded_check`` makes it,
with ``call_misreading``'s checks, a ``call_tools`` check: an SLM reply that fails it is
repaired, then escalated). ``unused_value`` finds the second: ``call_tools(missing=...)`` then
asks the SLM for the calls still missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from collab.tools import ToolLike, as_tools
from collab.types import Completion, ToolCall

__all__ = [
    "parameter_docs",
    "reply_error",
    "ungrounded_argument",
    "unused_value",
]

Caller = Literal["slm", "llm"]

Check = Callable[[Caller, Completion], "str | None"]
"""Why a reply fails (shown to the model that repairs it), or ``None`` when it is done."""


def reply_error(completion: Completion) -> str | None:
    """The default check: no call at all, the first invalid call's error, or a call repeated
    with the very same arguments (a small model looping: under a grammar that admits more
    calls it may write the same one until ``max_tokens``)."""
    if not completion.tool_calls:
        return "no tool call was made"
    seen: dict[tuple[str, str], int] = {}
    for number, call in enumerate(completion.tool_calls, 1):
        if call.error is not None:
            return f"call of {call.name or 'an unnamed tool'}: {call.error}"
        key = (call.name, json.dumps(call.arguments, sort_keys=True))
        if key in seen:
            return (
                f"call {number} repeats call {seen[key]} ({call.name} with the same arguments); "
                "make each call once"
            )
        seen[key] = number
    return None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
_WORD = re.compile(r"[a-z0-9]+")


def ungrounded_argument(
    calls: Sequence[ToolCall],
    request: str,
    tools: Sequence[ToolLike] = (),
    *,
    documented_values: bool = True,
) -> str | None:
    """The first argument value of ``calls`` that ``request`` does not contain, named (``None``
    when every one is there): strings as written, whole words (a plural's "s" aside: not
    "Christian" for "Christianity"; a short code such as "EUR" may be part of a word), or word
    by word (a date's numbers as numbers, "05" for "May"), numbers in digits, scaled ("5%":
    0.05) or in words up to twenty, a flag set to True only if the request names it
    (``include_history`` by "history"); false and empty values pass. A value the called
    tool's own parameter documents (in ``tools``: its description, default or enum, as
    "Default is California") is grounded too: the model made a default explicit. A small model
    that fills a parameter from nowhere, a unit the request never names or a number it never
    gave, is caught by this before any call runs. ``documented_values=False``, a stricter
    dial: of the docs, only an enum member sharing a word with the request counts
    ("opening_hours" for "working hours")."""
    text, words, numbers = _given(request)
    schemas = parameter_docs(tools)
    for call in calls:
        documented = schemas.get(call.name, {})
        for name, value in call.arguments.items():
            if value is True and not _named(name, words):
                return (
                    f"{call.name}({name}=True): the request does not ask for {name}; "
                    "leave it out unless it does"
                )
            given = (text, words, numbers)
            docs = documented.get(name)
            if docs is not None and not documented_values:
                docs = [m for m in _enum(docs) if _shares_word(m, words)]
            if docs:
                doc = _given(json.dumps(docs, ensure_ascii=False))
                given = (f"{text}\n{doc[0]}", words | doc[1], numbers | doc[2])
            missing = _missing(value, *given)
            if missing is not None:
                return f"{call.name}({name}={missing!r}): {missing!r} is not in the request"
    return None


def _enum(schema: dict[str, Any]) -> list[Any]:
    """A parameter's allowed values (its own enum, or its items' for an array)."""
    return list(schema.get("enum") or schema.get("items", {}).get("enum") or [])


def _shares_word(value: Any, words: set[str]) -> bool:
    """Whether a value shares a word of 4 letters or more with ``words`` ("opening_hours" and
    "working hours")."""
    spaced = str(value).lower().replace("_", " ")
    return any(len(w) >= 4 and w in words for w in _WORD.findall(spaced))


def parameter_docs(tools: Sequence[ToolLike]) -> dict[str, dict[str, Any]]:
    """Each tool's name → its parameters' JSON Schema properties (their docs)."""
    return {t.name: t.parameters.get("properties", {}) for t in as_tools(list(tools))}


_MONTHS = {
    m: n
    for n, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        1,
    )
    for m in names
}


_COUNTS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def _given(text: str) -> tuple[str, set[str], set[float]]:
    """What a text gives: itself lowercased, its words, its numbers (with those it writes as
    words: months as their numbers, counts up to twenty; an afternoon hour on the 24-hour
    clock too; a negative number's magnitude)."""
    lowered = text.lower()
    words = set(_WORD.findall(lowered))
    numbers = {abs(n) for n in map(_as_number, _NUMBER.findall(lowered)) if n is not None}
    numbers |= {float(_MONTHS[w]) for w in words if w in _MONTHS}
    numbers |= {float(_COUNTS.index(w)) for w in words if w in _COUNTS}
    numbers |= {v for given in _GIVEN_NUMBER.finditer(text) for v in _scaled(given)}
    numbers |= {float(hour) + 12 for hour in _PM_HOUR.findall(lowered) if int(hour) < 12}
    return lowered, words, numbers


_PM_HOUR = re.compile(r"\b(\d{1,2})(?::\d{2})?\s*p\.?m\b")
"""An afternoon hour ("11 PM", "3pm"), given as the 24-hour clock's hour as well."""


def _scaled(given: re.Match[str]) -> set[float]:
    """A number as written, and as its scale makes it ("5%": 0.05, "50 million": 5e7)."""
    value = _as_number(given["number"] or "")
    if value is None:
        return set()
    scale = (given["scale"] or "").strip().lower()
    return {value, value * _SCALES.get(scale, 1.0)}


def _named(parameter: str, words: set[str]) -> bool:
    """Whether a request's ``words`` name ``parameter`` (``include_history``, ``extraInfo``):
    one of its words of 4 letters or more begins a request word, compared on 5 letters at
    most ("standardize" is named by "standardization"); a name with no such word passes."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", parameter).lower()
    parts = [p[:5] for p in _WORD.findall(spaced) if len(p) >= 4]
    return not parts or any(w.startswith(p) for p in parts for w in words)


def _missing(value: Any, text: str, words: set[str], numbers: set[float]) -> Any:
    """The first leaf of ``value`` (nested lists and dicts walked) that the given ``text``,
    ``words`` and ``numbers`` do not contain; booleans and empty values pass."""
    for leaf in _leaves(value):
        if isinstance(leaf, bool) or leaf is None or leaf == "":
            continue
        if isinstance(leaf, int | float):
            if abs(float(leaf)) not in numbers and str(leaf) not in text:
                return leaf
        elif isinstance(leaf, str):
            lowered = leaf.lower().strip()
            unknown = {
                w
                for w in _WORD.findall(lowered)
                if w not in words and not (w.isdigit() and float(w) in numbers)
            }
            if unknown and not _written(leaf.strip(), text):
                return leaf
    return None


_CODE_LENGTH = 4
"""Up to this many letters, or in capitals, a value is a code ("EUR", "mi", "GOOG") that may
be part of a word ("Euros", "miles", "Google"); longer, it is a word, cut short if so."""


def _written(value: str, text: str) -> bool:
    """Whether ``text`` (lowercased) holds ``value``: a code anywhere, other values as whole
    words (a plural's ending may follow; a number may precede a unit: "5m")."""
    lowered = value.lower()
    if len(lowered) <= _CODE_LENGTH or value.isupper():
        return lowered in text
    left = r"(?<![a-z])" if lowered[0].isalpha() else r"(?<![a-z0-9])"
    right = r"(?:s|es|ren)?(?![a-z])" if lowered[-1].isalpha() else r"(?![a-z0-9])"
    return re.search(left + re.escape(lowered) + right, text) is not None


def _as_number(written: str) -> float | None:
    try:
        return float(written.replace(",", ""))
    except ValueError:
        return None


# A number in the request: not glued to a word before it ("BRCA1", "June01", "x^3" pass), a
# clock time as one value ("22:00"), an exponent as part of it ("1e-9"), then what scales it
# ("5%", "50 million").
_GIVEN_NUMBER = re.compile(
    r"(?<![\w^.$-])(?P<time>\d{1,2}:\d{2})"
    r"|(?<![\w^.,])(?P<number>-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+\b)?)(?![\d,]\d)"
    r"(?P<scale>\s*(?:%|percent\b|thousand\b"
    r"|million\b|billion\b))?",
    re.IGNORECASE,
)
_SCALES = {"%": 0.01, "percent": 0.01, "thousand": 1e3, "million": 1e6, "billion": 1e9}
# A quoted value: 2 to 80 characters between matching quotes that are not apostrophes.
_QUOTED = re.compile(r"(?<!\w)(['\"])(?P<value>[^'\"\n]{2,80}?)\1(?!\w)")
# Names joined by "and", "or" or a comma ("Persian Empire and Mauryan Empire", "Mars and
# Jupiter"): the capitalised words of each, the first not opening a sentence.
_NAME = r"[A-Z][\w&-]*(?:\s+(?:of\s+)?[A-Z][\w&-]*)*"
_JOINED = re.compile(
    rf"(?<![.!?]\s)(?<!^)\b(?P<first>{_NAME})(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)"
    rf"(?P<second>{_NAME})"
)


def unused_value(calls: Sequence[ToolCall], request: str) -> str | None:
    """The first value ``request`` gives that no call of ``calls`` uses, named (``None`` when
    every one is used): every number written in digits (scaled by "%", "million"...; a clock
    time as one), every quoted value, and every name listed beside a name a call uses ("Mars
    and Jupiter" when only Mars is used). A small model asked for several things often makes
    the first call only; this sees it, and a repair can ask for the rest."""
    texts = [t.lower() for t in _strings(calls)] + [c.name.lower() for c in calls]
    used_text = "\n".join(texts)
    used_numbers = {abs(n) for n in _numbers(calls)}
    used_numbers |= {abs(n) for t in texts for n in map(_as_number, _NUMBER.findall(t)) if n}
    used_words = set(_WORD.findall(used_text)) | {
        w for n in used_numbers for w in _WORD.findall(str(n))
    }
    for given in _GIVEN_NUMBER.finditer(request):
        if given["time"]:
            hour = float(given["time"].split(":")[0])
            if given["time"] in used_text or hour in used_numbers:
                continue
            return _unused(given["time"])
        wanted = {abs(v) for v in _scaled(given)}
        if not wanted:
            continue
        if wanted & used_numbers or _digits_in(given["number"], used_text):
            continue
        return _unused(given.group().strip())
    for quoted in _QUOTED.finditer(request):
        value = quoted["value"].strip()
        if value.lower() not in used_text and not set(_WORD.findall(value.lower())) <= used_words:
            return _unused(value)
    for joined in _JOINED.finditer(request):
        first, second = joined["first"], joined["second"]
        used = [set(_WORD.findall(n.lower())) <= used_words for n in (first, second)]
        if used == [True, False]:
            return _unused(second)
        if used == [False, True]:
            return _unused(first)
    return None


def _unused(value: str) -> str:
    return f"the request gives {value!r}, which no call uses yet"


def _strings(calls: Sequence[ToolCall]) -> Iterator[str]:
    for call in calls:
        yield from (v for v in _leaves(call.arguments) if isinstance(v, str))


def _numbers(calls: Sequence[ToolCall]) -> Iterator[float]:
    for call in calls:
        for v in _leaves(call.arguments):
            if isinstance(v, int | float) and not isinstance(v, bool):
                yield float(v)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _digits_in(written: str, text: str) -> bool:
    plain = written.replace(",", "")
    return re.search(rf"(?<![\d.]){re.escape(plain)}(?![\d])", text) is not None
