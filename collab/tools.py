"""Tools offered to models: ``@collab.tool`` turns a typed function into a ``Tool``.

Models take ``tools=[...]`` of any form ``as_tool`` accepts: a ``Tool``, a plain typed function,
a LangChain / LangGraph tool (``langchain_core.tools.BaseTool``), or an OpenAI tool dict
(``{"type": "function", "function": {...}}``, which describes a tool but cannot run it).
Every form becomes one OpenAI-style spec (``Tool.spec``), which is what models see.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from collab.errors import ToolArgumentsError, UserError
from collab.schema_checks import validation_error

__all__ = [
    "Tool",
    "ToolChoice",
    "ToolLike",
    "as_tool",
    "as_tools",
    "check_tool_choice",
    "tool",
]

ToolLike = Any
"""What ``tools=`` accepts: a ``Tool``, a typed function, a LangChain ``BaseTool``, or an
OpenAI tool dict."""

ToolChoice = Literal["auto", "required", "none"] | str | dict[str, Any]
"""``"auto"`` (the model may answer in text), ``"required"`` (it must call a tool), ``"none"``
(it must not), a tool's name, or OpenAI's ``{"type": "function", "function": {"name": ...}}``."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Tool:
    """A tool a model may call: its name, description, JSON-schema parameters, and (when it
    can run here) the function behind it."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The arguments' JSON schema (an object schema)."""
    args_model: type[BaseModel] | None = None
    """Validates arguments; ``None`` for tools known only by their JSON schema."""
    func: Callable[..., Any] | None = field(default=None, repr=False)
    """Called with the validated arguments as keywords; ``None`` for description-only tools."""

    def spec(self) -> dict[str, Any]:
        """The tool in OpenAI's form: ``{"type": "function", "function": {...}}``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """The arguments, checked and converted; ``ToolArgumentsError`` says what is wrong.

        A tool known only by its JSON schema checks the arguments against that schema."""
        args = _arguments_dict(self.name, arguments)
        if self.args_model is None:
            missing = [k for k in self.parameters.get("required", []) if k not in args]
            if missing:
                raise ToolArgumentsError(
                    f"tool {self.name!r} is missing required arguments {missing}",
                    tool=self.name,
                    hint=f"pass {', '.join(missing)}",
                )
            problem = validation_error(self.parameters, args)
            if problem is not None:
                raise ToolArgumentsError(
                    f"invalid arguments for tool {self.name!r}: {problem}",
                    tool=self.name,
                    hint=f"the parameters are {json.dumps(self.parameters.get('properties', {}))}",
                )
            return args
        try:
            model = self.args_model.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {problems}",
                tool=self.name,
                hint=f"the parameters are {json.dumps(self.parameters.get('properties', {}))}",
            ) from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    def run(self, arguments: Mapping[str, Any] | str = ()) -> Any:
        """Validate ``arguments`` (a dict or JSON text) and call the tool; an async tool is
        run to completion (use ``arun`` inside an event loop)."""
        func = self._runnable()
        result = func(**self.validate(arguments or {}))
        if inspect.isawaitable(result):
            return _run_awaitable(self.name, result)
        return result

    async def arun(self, arguments: Mapping[str, Any] | str = ()) -> Any:
        """Async twin of ``run``: a sync tool runs on a worker thread."""
        func = self._runnable()
        args = self.validate(arguments or {})
        if inspect.iscoroutinefunction(func):
            return await func(**args)
        result = await asyncio.to_thread(lambda: func(**args))
        return await result if inspect.isawaitable(result) else result

    def _runnable(self) -> Callable[..., Any]:
        if self.func is None:
            raise UserError(
                f"tool {self.name!r} has no function to run (it came from a JSON description)",
                hint="run the call yourself, or define the tool with @collab.tool",
            )
        return self.func


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a ``Tool`` of a typed function (sync or async): ``@tool`` or ``@tool(name=...)``.

    The name is the function's, the description its docstring's text before an ``Args:``
    section, whose ``name: text`` lines describe the parameters. Parameters need type hints.
    """

    def make(f: Callable[..., Any]) -> Tool:
        return _from_function(f, name=name, description=description)

    return make(func) if func is not None else make


def as_tool(value: ToolLike) -> Tool:
    """Any accepted tool form as a ``Tool``; ``UserError`` names what is not a tool."""
    if isinstance(value, Tool):
        return value
    if isinstance(value, Mapping):
        return _from_openai(value)
    if _is_langchain_tool(value):
        return _from_langchain(value)
    if callable(value):
        return _from_function(value, name=None, description=None)
    raise UserError(
        f"not a tool: {value!r:.100}",
        hint="pass a @collab.tool function, a typed function, a LangChain tool, or an OpenAI "
        'tool dict {"type": "function", "function": {"name": ..., "parameters": ...}}',
    )


def as_tools(values: Sequence[ToolLike]) -> list[Tool]:
    """``as_tool`` of each; ``UserError`` on two tools with the same name."""
    if isinstance(values, Mapping | str) or not isinstance(values, Sequence):
        raise UserError(f"tools must be a list, got {values!r:.100}", hint="pass tools=[...]")
    tools = [as_tool(v) for v in values]
    seen: set[str] = set()
    for t in tools:
        if t.name in seen:
            raise UserError(f"two tools are named {t.name!r}", hint="give each tool its own name")
        seen.add(t.name)
    return tools


def check_tool_choice(choice: ToolChoice, tools: Sequence[Tool]) -> str:
    """``choice`` as "auto", "required", "none" or the name of one of ``tools``."""
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str):
            raise UserError(
                f"tool_choice dict has no function name: {choice!r:.100}",
                hint='pass {"type": "function", "function": {"name": "<tool>"}}',
            )
        choice = name
    if choice in ("auto", "required", "none"):
        return choice
    names = [t.name for t in tools]
    if choice not in names:
        raise UserError(
            f"tool_choice {choice!r} is not one of the offered tools {names}",
            hint='pass "auto", "required", "none", or the name of an offered tool',
        )
    return choice


def _from_function(func: Callable[..., Any], *, name: str | None, description: str | None) -> Tool:
    tool_name = name or getattr(func, "__name__", "")
    if not _NAME.match(tool_name):
        raise UserError(
            f"tool name {tool_name!r} is not 1-64 letters, digits, '_' or '-'",
            hint="pass @tool(name='a_valid_name')",
        )
    summary, arg_docs = _parse_docstring(inspect.getdoc(func) or "")
    try:
        hints = get_type_hints(func)
    except Exception as exc:
        raise UserError(f"cannot read the type hints of tool {tool_name!r}: {exc}") from None
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise UserError(
                f"tool {tool_name!r} takes *{param.name}: a tool's parameters must be named",
                hint="list each parameter with its type",
            )
        if param.name not in hints:
            raise UserError(
                f"parameter {param.name!r} of tool {tool_name!r} has no type hint",
                hint=f"annotate it, e.g. {param.name}: str",
            )
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (
            hints[param.name],
            Field(default, description=arg_docs.get(param.name)),
        )
    model = create_model(  # type: ignore[call-overload]
        _camel(tool_name), __config__=ConfigDict(extra="forbid"), **fields
    )
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return Tool(
        name=tool_name,
        description=description if description is not None else summary,
        parameters=schema,
        args_model=model,
        func=func,
    )


def _from_openai(spec: Mapping[str, Any]) -> Tool:
    function = spec.get("function") if spec.get("type") == "function" else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise UserError(
            f"not an OpenAI tool dict: {dict(spec)!r:.150}",
            hint='pass {"type": "function", "function": {"name": ..., "parameters": {...}}}',
        )
    parameters = dict(function.get("parameters") or {"type": "object", "properties": {}})
    return Tool(
        name=function["name"],
        description=str(function.get("description") or ""),
        parameters=parameters,
    )


def _is_langchain_tool(value: object) -> bool:
    module = sys.modules.get("langchain_core.tools")  # never imported here: only if in use
    return module is not None and isinstance(value, module.BaseTool)


def _from_langchain(lc_tool: Any) -> Tool:
    """A LangChain tool: its own schema, run through ``invoke`` / ``ainvoke``."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    function = convert_to_openai_tool(lc_tool)["function"]
    schema = lc_tool.args_schema
    args_model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None

    def invoke(**kwargs: Any) -> Any:
        return lc_tool.invoke(kwargs)

    async def ainvoke(**kwargs: Any) -> Any:
        return await lc_tool.ainvoke(kwargs)

    has_async = getattr(lc_tool, "coroutine", None) is not None
    return Tool(
        name=function["name"],
        description=function.get("description", ""),
        parameters=function.get("parameters") or {"type": "object", "properties": {}},
        args_model=args_model,
        func=ainvoke if has_async else invoke,
    )


def _arguments_dict(name: str, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(
                f"arguments for tool {name!r} are not valid JSON ({exc.msg} at char {exc.pos})",
                tool=name,
                hint="pass a JSON object of the tool's parameters",
            ) from None
    if not isinstance(arguments, Mapping):
        raise ToolArgumentsError(
            f"arguments for tool {name!r} must be an object, got {type(arguments).__name__}",
            tool=name,
            hint="pass a dict of the tool's parameters",
        )
    return dict(arguments)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The text before an ``Args:`` section, and that section's ``name: text`` entries."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            args: dict[str, str] = {}
            last: str | None = None
            for entry in lines[i + 1 :]:
                match = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", entry)
                if match:
                    last = match.group(1)
                    args[last] = match.group(2).strip()
                elif entry.strip() and entry.startswith((" ", "\t")) and last is not None:
                    args[last] += " " + entry.strip()
                elif entry.strip():
                    break
            return "\n".join(lines[:i]).strip(), args
    return doc.strip(), {}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_-]", name) if part) or "Args"


def _run_awaitable(name: str, result: Awaitable[Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(result))
    close = getattr(result, "close", None)
    if close is not None:
        close()
    raise UserError(
        f"tool {name!r} is async and was run with run() inside an event loop",
        hint="await tool.arun(arguments) instead",
    )


async def _await(result: Awaitable[Any]) -> Any:
    return await result
