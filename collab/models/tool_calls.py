"""What every backend does with ``tools=``: check the request, validate the calls a model made.

Backends differ in how they offer tools (LiteLLM's ``tools``, a chat template, a script); they
agree on the result: ``Completion.tool_calls``, each call checked against the offered tools,
with an invalid call kept (``error`` set) rather than raised, so a caller can ask for a repair.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collab.errors import ToolArgumentsError, UserError
from collab.tools import Tool, ToolChoice, ToolLike, as_tools, check_tool_choice
from collab.types import ToolCall

__all__ = [
    "HERMES_CALL",
    "ToolRequest",
    "check_calls",
    "json_calls",
    "new_call_id",
    "parse_hermes_calls",
    "tool_args",
]

HERMES_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
"""A call in the Hermes / Qwen2.5 form: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
(a call cut off by ``max_tokens`` matches too, and is reported invalid)."""

_FENCED = re.compile(r"```[a-zA-Z]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """The tools offered to one call, and how the model may use them."""

    tools: tuple[Tool, ...]
    choice: str
    """"auto", "required", "none", or the name of the one tool the model must call."""

    @classmethod
    def of(cls, tools: Sequence[ToolLike] | None, choice: ToolChoice) -> ToolRequest | None:
        """The checked request; ``None`` when no tools are offered."""
        if tools is None:
            if choice not in ("auto", None):
                raise UserError(
                    f"tool_choice={choice!r} without tools",
                    hint="pass tools=[...] too, or leave tool_choice out",
                )
            return None
        checked = as_tools(tools)
        if not checked:
            return None
        return cls(tuple(checked), check_tool_choice(choice, checked))

    @property
    def allowed(self) -> tuple[Tool, ...]:
        """The tools the model may call under ``choice``."""
        if self.choice == "none":
            return ()
        if self.choice in ("auto", "required"):
            return self.tools
        return tuple(t for t in self.tools if t.name == self.choice)

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.tools]

    def openai_choice(self) -> str | dict[str, Any]:
        """``choice`` as OpenAI's ``tool_choice``."""
        if self.choice in ("auto", "required", "none"):
            return self.choice
        return {"type": "function", "function": {"name": self.choice}}


def tool_args(tools: Sequence[ToolLike] | None, tool_choice: ToolChoice) -> dict[str, Any]:
    """The tool keywords to pass on to another model: none at all when no tools were given,
    so models that take no ``tools=`` keep working when a budget policy swaps them in."""
    return {} if tools is None else {"tools": tools, "tool_choice": tool_choice}


def new_call_id() -> str:
    return "call_" + secrets.token_hex(6)


def check_calls(calls: Sequence[ToolCall], request: ToolRequest) -> list[ToolCall]:
    """Each call checked against the offered tools: ids filled in, errors recorded."""
    allowed = {t.name: t for t in request.allowed}
    checked = []
    for call in calls:
        filled: dict[str, Any] = {} if call.id else {"id": new_call_id()}
        if not call.arguments_text and call.error is None:
            filled["arguments_text"] = json.dumps(call.arguments)
        call = call.model_copy(update=filled) if filled else call
        if call.error is not None:
            checked.append(call)
            continue
        found = allowed.get(call.name)
        error = None
        if found is None:
            error = f"tool {call.name!r} is not one of the offered tools {sorted(allowed)}"
        else:
            try:
                found.validate(call.arguments)
            except ToolArgumentsError as exc:
                error = exc.message
        checked.append(call.model_copy(update={"error": error}) if error else call)
    return checked


def parse_hermes_calls(text: str) -> tuple[str, list[ToolCall]]:
    """The text before any ``<tool_call>`` block, and the calls in those blocks (unchecked)."""
    start = text.find("<tool_call>")
    if start < 0:
        return text, []
    calls = [_hermes_call(body) for body in HERMES_CALL.findall(text[start:])]
    return text[:start].strip(), calls


def _hermes_call(body: str) -> ToolCall:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return ToolCall(
            id=new_call_id(),
            name=_name_guess(body),
            arguments_text=body,
            error=f"the call is not valid JSON ({exc.msg} at char {exc.pos})",
        )
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return ToolCall(
            id=new_call_id(),
            name="",
            arguments_text=body,
            error='the call is not {"name": ..., "arguments": {...}}',
        )
    arguments = data.get("arguments", {})
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        return ToolCall.from_openai(
            {"id": new_call_id(), "function": {"name": data["name"], "arguments": arguments}}
        )
    text = json.dumps(arguments)
    if not isinstance(arguments, dict):
        return ToolCall(
            id=new_call_id(),
            name=data["name"],
            arguments_text=text,
            error=f"arguments must be a JSON object, got {type(arguments).__name__}",
        )
    return ToolCall(id=new_call_id(), name=data["name"], arguments=arguments, arguments_text=text)


def json_calls(text: str, request: ToolRequest) -> list[ToolCall]:
    """Calls written as JSON without the ``<tool_call>`` tags, as small models often write them:
    ``{"name": <an allowed tool>, "arguments": {...}}`` objects (one after another, or in a
    list) in code fences, or as the whole reply. Other JSON and prose are not calls; a call cut
    off mid-object (``max_tokens``) is kept, invalid. Unchecked, like ``parse_hermes_calls``."""
    names = {t.name for t in request.allowed}
    fenced = _FENCED.findall(text)
    calls: list[ToolCall] = []
    for block in fenced if fenced else [text]:
        calls += _json_block_calls(block.strip(), names)
    return calls


def _json_block_calls(block: str, names: set[str]) -> list[ToolCall]:
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    position = 0
    while position < len(block) and block[position] in "[{":
        try:
            value, end = decoder.raw_decode(block, position)
        except json.JSONDecodeError:
            rest = block[position:]
            if _name_guess(rest) in names:  # a call cut off: kept, reported invalid
                calls.append(_hermes_call(rest))
            break
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and entry.get("name") in names:
                arguments = entry.get("arguments", entry.get("parameters", {}))
                calls.append(
                    _hermes_call(json.dumps({"name": entry["name"], "arguments": arguments}))
                )
        position = end
        while position < len(block) and block[position] in " \t\r\n,":
            position += 1
    return calls


def _name_guess(body: str) -> str:
    match = re.search(r'"name"\s*:\s*"([^"]*)"', body)
    return match.group(1) if match else ""
