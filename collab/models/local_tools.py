"""Tool calling on llama.cpp: tools in the prompt, calls constrained by grammar, then parsed.

Tools are rendered by the GGUF's own chat template when it takes ``tools`` (Qwen2.5 does: it
lists them in the system turn and asks for ``<tool_call>{"name", "arguments"}</tool_call>``);
other templates get the same Hermes-style instruction in a system message. The output is
constrained to that form with a grammar over the offered tools' parameter schemas: with
``tool_choice="required"`` or a tool's name from the first token, with ``"auto"`` lazily, only
once the model writes ``<tool_call>`` (so it may answer in text instead).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from collab.errors import SchemaError
from collab.models.tool_calls import ToolRequest, check_calls, json_calls, parse_hermes_calls
from collab.tools import Tool
from collab.types import Message, ToolCall

if TYPE_CHECKING:
    from llama_cpp import Llama

    from collab.models.chat_prompt import ChatTemplate
    from collab.models.local_generation import StreamStats

__all__ = [
    "TRIGGER",
    "generate_tool_text",
    "template_takes_tools",
    "tool_grammar",
    "tool_messages",
    "tool_result",
]

TRIGGER = "<tool_call>"

_INSTRUCTION = """You can call functions. The available tools, as JSON:
<tools>
{tools}
</tools>
To call a tool, answer with one JSON object per call inside <tool_call></tool_call> tags:
<tool_call>
{{"name": <tool name>, "arguments": <arguments object>}}
</tool_call>"""


def template_takes_tools(template: ChatTemplate | None) -> bool:
    """Whether the chat template renders ``tools`` itself (a GGUF Jinja template using them)."""
    source = getattr(getattr(template, "formatter", None), "template", None)
    return isinstance(source, str) and "tools" in source


def tool_messages(
    messages: list[Message], request: ToolRequest, *, native: bool
) -> tuple[list[Message], list[dict[str, Any]] | None]:
    """The messages to render and the ``tools`` to pass the template: the template's own way
    when ``native``; otherwise an instruction in the system message, and earlier tool calls
    and results written out as text in the same Hermes form."""
    shown = [] if request.choice == "none" else request.specs()
    if native:
        return messages, shown or None
    out = [_as_text(m) for m in messages]
    if not shown:
        return out, None
    instruction = _INSTRUCTION.format(tools="\n".join(json.dumps(s) for s in shown))
    if out and out[0].role == "system":
        out[0] = Message(role="system", content=f"{out[0].content}\n\n{instruction}")
    else:
        out.insert(0, Message(role="system", content=instruction))
    return out, None


def tool_grammar(request: ToolRequest) -> tuple[str, list[str]]:
    """GBNF for one or more calls of the allowed tools, and the lazy triggers ("auto")."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    calls = [_call_schema(t) for t in request.allowed]
    schema = calls[0] if len(calls) == 1 else {"anyOf": calls}
    try:
        body = json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"])
    except Exception as exc:  # the converter raises bare Exceptions on what it lacks
        raise SchemaError(
            f"llama.cpp cannot turn the tools' parameters into a grammar: {exc}",
            hint="simplify the tools' parameter schemas (e.g. drop external $refs)",
        ) from None
    body = re.sub(r"^root ::=", "call ::=", body, flags=re.MULTILINE)
    block = r'"<tool_call>" "\n"? call "\n"? "</tool_call>"'
    root = f'root ::= {block} ("\\n" {block})*\n'
    triggers = [re.escape(TRIGGER)] if request.choice == "auto" else []
    return root + body, triggers


def tool_result(text: str, request: ToolRequest) -> tuple[str, list[ToolCall]]:
    """The reply's text (before any call) and its calls, checked against the offered tools."""
    content, calls = parse_hermes_calls(text)
    if not calls and request.choice == "auto":
        calls = _bare_call(text, request)
        content = "" if calls else content
    return content, check_calls(calls, request)


def _bare_call(text: str, request: ToolRequest) -> list[ToolCall]:
    """A reply that is only a call written as JSON (maybe in a code fence) without the tags,
    as small models often write one under ``"auto"``: taken as a call of an offered tool."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    if not body.startswith("{"):
        return []
    calls = json_calls(text, request)
    return calls if len(calls) == 1 and calls[0].valid else []


def _call_schema(tool: Tool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _as_text(message: Message) -> Message:
    """A tool call or tool result as plain text, for templates that know neither."""
    if message.role == "tool":
        return Message(role="user", content=f"<tool_response>\n{message.content}\n</tool_response>")
    if message.tool_calls:
        blocks = [
            f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': c.arguments})}\n</tool_call>"
            for c in message.tool_calls
        ]
        text = "\n".join([message.content, *blocks] if message.content else blocks)
        return Message(role="assistant", content=text)
    return message


def generate_tool_text(
    llm: Llama,
    tokens: list[int],
    request: ToolRequest,
    *,
    stops: list[str],
    max_tokens: int,
    temperature: float,
    seed: int,
    stats: StreamStats,
) -> tuple[str, int]:
    """The reply to ``tokens`` under the tool-call grammar, and how many tokens the grammar
    rejected (each cost a full-vocabulary mask); the caller holds the model's gate."""
    from collab.models.grammar_check import CheckedGrammar, constrained_tokens
    from collab.models.local_generation import eog_checker, generate_deltas

    gbnf, triggers = tool_grammar(request)
    grammar = CheckedGrammar(llm, gbnf, triggers=triggers)
    try:
        is_eog = eog_checker(llm)
        source = constrained_tokens(
            llm, tokens, grammar, temperature=temperature, seed=seed, is_eog=is_eog
        )
        deltas = generate_deltas(
            llm,
            tokens,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stops,
            seed=seed,
            stats=stats,
            is_eog=is_eog,
            source=source,
        )
        return "".join(deltas), grammar.rejections
    finally:
        grammar.close()
