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

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from collab.models.base import Model
from collab.tools import ToolChoice, ToolLike
from collab.types import Completion, Message, Prompt, ToolCall, normalize_messages

from .call_grounding import (
    Caller,
    Check,
    reply_error,
    ungrounded_argument,
    unused_value,
)
from .call_misreading import misread_argument
from .fencing import fence
from .tool_fit import better_fitting_tool

__all__ = [
    "Caller",
    "Missing",
    "ToolTurn",
    "ToolTurns",
    "better_fitting_tool",
    "call_tools",
    "grounded_check",
    "misread_argument",
    "reply_error",
    "ungrounded_argument",
    "unused_value",
]


@dataclass(frozen=True, slots=True)
class ToolTurn:
    """One reply: who made it, the reply itself, why it failed (``None``: it did not), the
    calls made so far (this reply's, and for a continuation the earlier replies' too), and
    whether it continued an incomplete reply (``continued``) rather than starting afresh."""

    by: Caller
    completion: Completion
    error: str | None
    calls: tuple[ToolCall, ...] = ()
    continued: bool = False


@dataclass(frozen=True, slots=True)
class ToolTurns:
    """Every reply of one ``call_tools``, in order; the last one is the outcome."""

    turns: tuple[ToolTurn, ...]

    @property
    def ok(self) -> bool:
        return self.turns[-1].error is None

    @property
    def calls(self) -> list[ToolCall]:
        """The outcome's tool calls (a continued reply's with those it continued)."""
        last = self.turns[-1]
        return list(last.calls or last.completion.tool_calls)

    @property
    def repairs(self) -> int:
        """SLM replies that started afresh after its first one."""
        return max(sum(t.by == "slm" and not t.continued for t in self.turns) - 1, 0)

    @property
    def continuations(self) -> int:
        """SLM replies that added calls to an incomplete reply."""
        return sum(t.continued for t in self.turns)

    @property
    def escalated(self) -> bool:
        return any(t.by == "llm" for t in self.turns)


Missing = Callable[[Sequence[ToolCall]], "str | None"]
"""What valid calls still leave out of the request (``unused_value`` bound to it), or
``None`` when they are complete."""


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
    missing: Missing | None = None,
    max_continuations: int = 3,
) -> ToolTurns:
    """The SLM's calls of ``tools`` for ``prompt``, repaired ``max_repairs`` times, then the
    LLM's (``llm_attempts`` replies); ``again`` ends each repair request. With
    ``llm_sees_slm=False`` the LLM gets ``prompt`` alone, not the SLM's failed replies (which
    may anchor it to the same mistake); its own failures are still shown to it.

    ``missing`` (e.g. ``lambda calls: unused_value(calls, request)``): when the SLM's valid
    calls leave something out, the SLM is shown its calls as made and asked for the missing
    ones only, at most ``max_continuations`` times, its calls adding up (a small model asked
    for several calls often makes one per reply). Calls that are still incomplete, or a
    continuation that adds nothing valid, fail like an invalid reply: repaired, then escalated.
    """
    question = normalize_messages(prompt)
    chat = question
    callers: list[tuple[Caller, Model]] = [("slm", slm)] * (max_repairs + 1)
    callers += [("llm", llm)] * llm_attempts
    turns: list[ToolTurn] = []

    def ask(model: Model, messages: list[Message]) -> Completion:
        return model.complete(
            messages, max_tokens=max_tokens, tools=list(tools), tool_choice=tool_choice
        )

    def judge(by: Caller, done: Completion) -> str | None:
        return check(by, done) if check is not None else reply_error(done)

    for by, model in callers:
        if by == "llm" and not llm_sees_slm and all(t.by == "slm" for t in turns):
            chat = question
        done = ask(model, chat)
        turns.append(ToolTurn(by, done, judge(by, done), tuple(done.tool_calls)))
        if by == "slm" and missing is not None and turns[-1].error is None:
            chat = _continue(chat, turns, missing, max_continuations, partial(ask, model), judge)
        if turns[-1].error is None:
            break
        chat = [*chat, *feedback(turns[-1].completion.tool_calls, turns[-1].error, again)]
    return ToolTurns(tuple(turns))


def _continue(
    chat: list[Message],
    turns: list[ToolTurn],
    missing: Missing,
    limit: int,
    ask: Callable[[list[Message]], Completion],
    judge: Callable[[Caller, Completion], str | None],
) -> list[Message]:
    """Ask the SLM for what its valid calls (``turns[-1]``) leave out, until nothing is
    missing or ``limit`` continuations; ``turns`` gains each reply, the last one failing with
    what is still missing when it is. Returns the conversation so far."""
    for number in range(limit + 1):
        last = turns[-1]
        gap = missing(last.calls)
        if gap is None:
            return chat
        if number == limit:
            turns[-1] = replace(last, error=gap)
            return chat
        chat = [*chat, *_made(last.completion.tool_calls, gap)]
        done = ask(chat)
        error = judge("slm", done)
        added = _new_calls(done.tool_calls, last.calls)
        if error is None and not added:
            error = f"no call was added; {gap}"
        turns.append(ToolTurn("slm", done, error, (*last.calls, *added), continued=True))
        if error is not None:
            return chat
    return chat


def _new_calls(calls: Sequence[ToolCall], earlier: Sequence[ToolCall]) -> list[ToolCall]:
    """``calls`` that repeat none of ``earlier`` (same tool, same arguments), each once."""
    seen = {_signature(c) for c in earlier}
    new = []
    for call in calls:
        if _signature(call) not in seen:
            seen.add(_signature(call))
            new.append(call)
    return new


def _signature(call: ToolCall) -> tuple[str, str]:
    return call.name, json.dumps(call.arguments, sort_keys=True, default=str)


def _made(calls: Sequence[ToolCall], gap: str) -> list[Message]:
    """The calls as made (each answered "recorded": none has run), then the request for the
    missing ones only."""
    ask = f"Not finished: {gap}. Make the calls still missing, not the ones above."
    return _answered(calls, lambda _: "recorded", ask)


def feedback(calls: Sequence[ToolCall], error: str, again: str) -> list[Message]:
    """The failed calls and the error (as each call's tool result), then the request to call
    again; without calls (or ids to answer), only the request."""
    ask = f"That call failed: {error}\n{again}"
    return _answered(calls, lambda c: fence(f"error: {c.error or error}", "tool_result"), ask)


def _answered(
    calls: Sequence[ToolCall], result: Callable[[ToolCall], str], ask: str
) -> list[Message]:
    """``calls`` as the assistant's, each answered by a tool message ``result(call)``, then the
    user's ``ask``; calls without an id cannot be answered, and only ``ask`` is left."""
    answered = [c for c in calls if c.id]
    results = [
        Message(role="tool", content=result(c), tool_call_id=c.id, name=c.name) for c in answered
    ]
    head = [Message(role="assistant", tool_calls=tuple(answered)), *results] if answered else []
    return [*head, Message(role="user", content=ask)]


def grounded_check(
    request: str,
    tools: Sequence[ToolLike] = (),
    *,
    documented_values: bool = True,
    tool_fit: bool = False,
) -> Check:
    """A ``check`` for ``call_tools``: the default one, and for the SLM's replies also
    ``ungrounded_argument`` and ``misread_argument`` against ``request`` and ``tools``'
    parameter docs (the LLM's replies are taken when valid). ``documented_values=False``:
    a value only the tool's docs give (a default made explicit; an enum member sharing a word
    with the request aside) fails too, a stricter dial that escalates more. ``tool_fit``:
    a call of a tool that another offered one fits clearly better fails too
    (``better_fitting_tool``; needs ``bm25s``, ``pip install 'collab[rag]'``)."""

    def check(by: Caller, completion: Completion) -> str | None:
        error = reply_error(completion)
        if error is None and by == "slm":
            calls = completion.tool_calls
            error = (
                ungrounded_argument(calls, request, tools, documented_values=documented_values)
                or misread_argument(calls, request, tools)
                or (better_fitting_tool(calls, request, tools) if tool_fit else None)
            )
        return error

    return check
