"""What a JSON schema dict must satisfy before collab uses it: the JSON Schema meta-schema, and
the rules a sampling grammar needs (a schema that no value satisfies has no grammar: llama.cpp
fails to parse, or crashes on, what its converter makes of it)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from collab.errors import SchemaError

__all__ = ["check_json_schema", "validation_error"]

_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_BOUNDS = (
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
)
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_HINT = "fix the schema: every part must admit at least one value"


def check_json_schema(schema: dict[str, Any]) -> None:
    """Raise ``SchemaError`` naming the first problem of ``schema``: against the JSON Schema
    meta-schema, then collab's own rules (empty ``enum``, ``minimum`` above ``maximum``, ...)."""
    _check_meta(schema)
    for path, part in _walk(schema, "#"):
        _check_part(part, path)


def validation_error(schema: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` does not match ``schema`` (one line, with where), or ``None`` if it does."""
    from jsonschema import validators

    validator = validators.validator_for(schema)(schema)
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: e.path)), None)
    if error is None:
        return None
    where = ".".join(map(str, error.absolute_path)) or "top level"
    return f"{error.message[:200]} at {where}"


def _check_meta(schema: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "top level"
        raise SchemaError(
            f"not a valid JSON schema at {where}: {exc.message[:200]}", hint=_HINT
        ) from None


def _walk(part: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(part, dict):
        return
    yield path, part
    for key in _SUBSCHEMA_KEYS:
        yield from _walk(part.get(key), f"{path}/{key}")
    for key in _SUBSCHEMA_MAPS:
        children = part.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                yield from _walk(child, f"{path}/{key}/{name}")
    for key in _SUBSCHEMA_LISTS:
        children = part.get(key)
        if isinstance(children, list):
            for i, child in enumerate(children):
                yield from _walk(child, f"{path}/{key}/{i}")


def _check_part(part: dict[str, Any], path: str) -> None:
    for key in ("anyOf", "oneOf", "allOf", "enum"):
        if key in part and not part[key]:
            raise SchemaError(
                f"schema at {path} has an empty {key!r}: no value matches", hint=_HINT
            )
    types = part.get("type")
    if "enum" in part and isinstance(types, str | list):
        allowed = [types] if isinstance(types, str) else types
        fitting = [v for v in part["enum"] if any(_TYPE_CHECKS[t](v) for t in allowed)]
        if not fitting:
            raise SchemaError(
                f"schema at {path}: no value of its enum {part['enum']!r:.100} is of type "
                f"{types!r}",
                hint=_HINT,
            )
    low = _lowest(part)
    high = _highest(part)
    if low is not None and high is not None:
        (low_value, low_open), (high_value, high_open) = low, high
        if low_value > high_value or (low_value == high_value and (low_open or high_open)):
            raise SchemaError(
                f"schema at {path} has an empty range: minimum {low_value} is above maximum "
                f"{high_value}",
                hint=_HINT,
            )
        first = math.floor(low_value) + 1 if low_open else math.ceil(low_value)
        last = math.ceil(high_value) - 1 if high_open else math.floor(high_value)
        if types == "integer" and first > last:
            raise SchemaError(
                f"schema at {path}: no integer lies between {low_value} and {high_value}",
                hint=_HINT,
            )
    for low_key, high_key in _BOUNDS:
        low_n, high_n = part.get(low_key), part.get(high_key)
        if isinstance(low_n, int) and isinstance(high_n, int) and low_n > high_n:
            raise SchemaError(
                f"schema at {path} has {low_key}={low_n} above {high_key}={high_n}", hint=_HINT
            )
    required = part.get("required")
    if isinstance(required, list) and part.get("additionalProperties") is False:
        missing = [r for r in required if r not in (part.get("properties") or {})]
        if missing:
            raise SchemaError(
                f"schema at {path} requires {missing!r} but allows no such property", hint=_HINT
            )


def _lowest(part: dict[str, Any]) -> tuple[float, bool] | None:
    """The lower bound and whether it is exclusive."""
    bounds = [(part["minimum"], False)] if _is_number(part.get("minimum")) else []
    if _is_number(part.get("exclusiveMinimum")):
        bounds.append((part["exclusiveMinimum"], True))
    return max(bounds, key=lambda b: (b[0], b[1])) if bounds else None


def _highest(part: dict[str, Any]) -> tuple[float, bool] | None:
    """The upper bound and whether it is exclusive."""
    bounds = [(part["maximum"], False)] if _is_number(part.get("maximum")) else []
    if _is_number(part.get("exclusiveMaximum")):
        bounds.append((part["exclusiveMaximum"], True))
    return min(bounds, key=lambda b: (b[0], not b[1])) if bounds else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
