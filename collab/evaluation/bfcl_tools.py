"""BFCL through the tool-calling API: function docs as tools, tool calls as BFCL calls.

``bfcl_tools`` converts an entry's function docs as BFCL's own function-calling mode does for
OpenAI-style models (``bfcl_eval/model_handler/utils.py``, ``convert_to_tool`` with
``GORILLA_TO_OPENAPI``): BFCL's types become JSON Schema's (``dict`` → ``object``, ``float`` →
``number`` with ``format: float``, ``tuple`` → ``array``, ``any`` and unknown types →
``string``), a parameter without a type is a string, and dots in names become underscores (a
tool name is ``[A-Za-z0-9_-]{1,64}``). ``calls_of`` maps a model's tool calls back to BFCL's
``{name: {param: value}}`` under the original names, for ``check_calls``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from collab.evaluation.bfcl_checker import Call, Category, Check, check_calls
from collab.types import ToolCall

__all__ = ["BfclTools", "bfcl_tools", "calls_of", "check_tool_calls"]

OPENAPI_TYPES = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
}
"""BFCL's ``GORILLA_TO_OPENAPI`` for Python's types (Java's and JavaScript's left out)."""


class BfclTools:
    """An entry's functions as OpenAI tool dicts, and each tool's BFCL function name."""

    def __init__(self, tools: list[dict[str, Any]], names: dict[str, str]) -> None:
        self.tools = tools
        self.names = names
        """Tool name → BFCL function name (``math_factorial`` → ``math.factorial``)."""


def bfcl_tools(functions: Sequence[Mapping[str, Any]]) -> BfclTools:
    """``functions`` (BFCL docs) as OpenAI tool dicts, converted as BFCL converts them."""
    tools, names = [], {}
    for function in functions:
        item = copy.deepcopy(dict(function))
        name = re.sub(r"\.", "_", item["name"])
        names[name] = item["name"]
        parameters = dict(item.get("parameters") or {})
        parameters["type"] = "object"
        parameters["properties"] = _cast(parameters.get("properties") or {})
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": item.get("description", ""),
                    "parameters": parameters,
                },
            }
        )
    return BfclTools(tools, names)


def _cast(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's ``_cast_to_openai_type``: lists of any / of lists / of dicts, dicts of any."""
    for spec in properties.values():
        given = spec.get("type")
        if given == "float":
            spec["format"] = "float"
            spec["description"] = spec.get("description", "") + " This is a float type value."
        spec["type"] = OPENAPI_TYPES.get(given, "string") if given is not None else "string"
        if spec["type"] not in ("array", "object"):
            continue
        if "properties" in spec:
            spec["properties"] = _cast(spec["properties"])
        elif isinstance(spec.get("items"), dict):
            items = spec["items"]
            items["type"] = OPENAPI_TYPES.get(items.get("type", "string"), "string")
            inner = items.get("items")
            if items["type"] == "array" and isinstance(inner, dict):
                inner["type"] = OPENAPI_TYPES.get(inner.get("type", "string"), "string")
            elif items["type"] == "object" and "properties" in items:
                items["properties"] = _cast(items["properties"])
    return properties


def calls_of(tool_calls: Sequence[ToolCall], names: Mapping[str, str]) -> list[Call]:
    """The calls as BFCL reads them, under BFCL's function names (unknown names kept)."""
    return [{names.get(c.name, c.name): dict(c.arguments)} for c in tool_calls]


def check_tool_calls(
    functions: Sequence[Mapping[str, Any]],
    tool_calls: Sequence[ToolCall],
    ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]],
    *,
    category: Category,
) -> Check:
    """BFCL's AST verdict on a model's tool calls for an entry offered ``bfcl_tools(functions)``."""
    names = bfcl_tools(functions).names
    return check_calls(functions, calls_of(tool_calls, names), ground_truth, category=category)
