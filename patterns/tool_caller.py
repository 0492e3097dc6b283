"""One turn of tool calls with repair and escalation: the SLM calls, the LLM takes over.

``call_tools`` asks the SLM for its calls of the offered tools; a reply fails when ``check``
says why (by default: it holds no call, a call is invalid: an unknown tool, or arguments
that do not match the tool's parameters, ``ToolCall.error``, or a call repeats another). A
failed reply's calls and the error go back, fenced, as ``role="tool"`` messages with a request
to call again: ``max_repairs`` times to the SLM, then ``llm_attempts`` times to the LLM.
``plan_execute``'s steps (``run_step``) and the BFCL tool-calling benchmark both call tools
this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collab.models.base import Model
from collab.tools import ToolChoice, ToolLike
from collab.types import Completion, Message, Prompt, ToolCall, normalize_messages

from .call_grounding import (
    Caller,
    Check,
    complete_check,
    grounded_check,
    reply_error,
    ungrounded_argument,
    unused_value,
)
from .fencing import fence

__all__ = [
    "Caller",
    "ToolTurn",
    "ToolTurns",
    "call_tools",
    "complete_check",
    "grounded_check",
    "reply_error",
    "ungrounded_argument",
    "unused_value",
]


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """One reply: who made it, the reply itself, and why it failed (``None``: it did not)."""

    by: Caller
    completion: Completion
    error: str | None


@dataclass(frozen=True, slots=True)
class ToolTurns:
    """Every reply of one ``call_tools``, in order; the last one is the outcome."""

    turns: tuple[ToolTurn, ...]

    @property
    def ok(self) -> bool:
        return self.turns[-1].error is None

    @property
    def calls(self) -> list[ToolCall]:
        """The last reply's tool calls."""
        return list(self.turns[-1].completion.tool_calls)

    @property
    def repairs(self) -> int:
        """SLM replies after its first one."""
        return max(sum(t.by == "slm" for t in self.turns) - 1, 0)

    @property
    def escalated(self) -> bool:
        return any(t.by == "llm" for t in self.turns)


def call_tools(
    prompt: Prompt,
    tools: Sequence[ToolLike],
    *,
    slm: Model,
    llm: Model,
    max_tokens: int,
    max_repairs: int,
    llm_attempts: int,
    tool_choice: ToolChoice = "required",
    check: Check | None = None,
    again: str = "Call again with corrected arguments.",
    llm_sees_slm: bool = True,
) -> ToolTurns:
    """The SLM's calls of ``tools`` for ``prompt``, repaired ``max_repairs`` times, then the
    LLM's (``llm_attempts`` replies); ``again`` ends each repair request. With
    ``llm_sees_slm=False`` the LLM gets ``prompt`` alone, not the SLM's failed replies (which
    may anchor it to the same mistake); its own failures are still shown to it."""
    question = normalize_messages(prompt)
    chat = question
    callers: list[tuple[Caller, Model]] = [("slm", slm)] * (max_repairs + 1)
    callers += [("llm", llm)] * llm_attempts
    turns: list[ToolTurn] = []
    for by, model in callers:
        if by == "llm" and not llm_sees_slm and all(t.by == "slm" for t in turns):
            chat = question
        done = model.complete(
            chat, max_tokens=max_tokens, tools=list(tools), tool_choice=tool_choice
        )
        error = check(by, done) if check is not None else reply_error(done)
        turns.append(ToolTurn(by, done, error))
        if error is None:
            break
        chat = [*chat, *feedback(done.tool_calls, error, again)]
    return ToolTurns(tuple(turns))


def feedback(calls: Sequence[ToolCall], error: str, again: str) -> list[Message]:
    """The failed calls and the error (as each call's tool result), then the request to call
    again; without calls (or ids to answer), only the request."""
    ask = Message(role="user", content=f"That call failed: {error}\n{again}")
    answered = [c for c in calls if c.id]
    if not answered:
        return [ask]
    results = [
        Message(
            role="tool",
            content=fence(f"error: {call.error or error}", "tool_result"),
            tool_call_id=call.id,
            name=call.name,
        )
        for call in answered
    ]
    return [Message(role="assistant", tool_calls=tuple(answered)), *results, ask]
