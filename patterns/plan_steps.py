"""A plan's steps: what the planner writes (``Plan`` of ``Step``s), and how one step runs.

``run_step`` makes a step's one tool call (``tool_caller.call_tools``): the SLM is forced to
call the step's tool; a call that fails (invalid arguments, another tool, the tool raising) is
shown its error and repaired, then handed to the LLM. Only the step's tool ever runs; results
and errors go back fenced, as ``role="tool"`` messages. Each run of the tool is timed, in its
``Attempt`` and in a ``ToolRan`` event of the active run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.run import active_run
from collab.errors import ToolArgumentsError
from collab.events import ToolRan
from collab.models.base import Model
from collab.tools import Tool
from collab.types import Completion, Message, ToolCall

from .fencing import fence
from .tool_caller import Caller, call_tools

__all__ = ["Attempt", "CallerSettings", "Plan", "Step", "StepRun", "run_step"]


class Step(BaseModel):
    """One step of a plan: a tool to call, and why."""

    tool: str
    """The registered tool's name."""
    purpose: str
    """What the call is for, in a sentence: what the tool caller must get from it."""
    uses: list[int] = Field(default_factory=list)
    """The numbers (1-based) of earlier steps whose results this step needs; other numbers
    are ignored."""


class Plan(BaseModel):
    """The planner's output: the steps, in order."""

    steps: list[Step]


class Attempt(BaseModel):
    """One call of a step's tool: who made it, with what, and what went wrong."""

    model_config = ConfigDict(frozen=True)

    by: Literal["slm", "llm"]
    model: str
    arguments: dict[str, Any]
    arguments_text: str
    error: str | None = None
    tool_time_s: float = 0.0
    """Seconds the tool ran (0 when the call was invalid and the tool never ran)."""


class StepRun(BaseModel):
    """One step as it ran: its tool, the arguments and result of its last call, who made it."""

    model_config = ConfigDict(frozen=True)

    round: int
    """Which plan the step belongs to: 0 for the first, 1 after the first re-plan, ..."""
    number: int
    """The step's 1-based number in its plan."""
    tool: str
    purpose: str
    ok: bool
    result: str | None = None
    """The tool's output as text (cut to ``max_result_chars``); ``None`` when the step failed."""
    error: str | None = None
    """The last attempt's error when the step failed."""
    called_by: Literal["slm", "llm"] | None = None
    """Who made the last call."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    repairs: int = 0
    """SLM calls after its first one."""
    escalated: bool = False
    attempts: list[Attempt] = Field(default_factory=list)

    @property
    def tool_time_s(self) -> float:
        return sum(a.tool_time_s for a in self.attempts)


class CallerSettings(BaseModel):
    """How a step's tool is called (``PlanExecuteConfig`` gives these)."""

    model_config = ConfigDict(frozen=True)

    system: str
    max_tokens: int
    max_repairs: int
    llm_attempts: int
    max_result_chars: int


def run_step(
    step: Step,
    number: int,
    round_: int,
    earlier: Sequence[StepRun],
    question: str,
    tool: Tool,
    *,
    slm: Model,
    llm: Model,
    settings: CallerSettings,
) -> StepRun:
    """Call ``tool`` for ``step`` (number ``number`` of plan ``round_``), with the results of
    the ``earlier`` steps it uses: the SLM, repaired ``max_repairs`` times, then the LLM."""
    # a number that is not an earlier step (planners write [0] for "none") only adds nothing
    used = [earlier[u - 1] for u in step.uses if 1 <= u <= len(earlier) and earlier[u - 1].ok]
    chat = _caller_messages(settings, question, step, number, used)
    attempts: list[Attempt] = []
    results: list[str | None] = []

    def check(by: Caller, done: Completion) -> str | None:
        """Run the step's one tool on a valid call of it; the attempt records what happened."""
        call = done.tool_calls[0] if done.tool_calls else None
        attempt, result = _attempt(by, done.model, call, tool, settings)
        attempts.append(attempt)
        results.append(result)
        return attempt.error

    call_tools(
        chat,
        [tool],
        slm=slm,
        llm=llm,
        max_tokens=settings.max_tokens,
        max_repairs=settings.max_repairs,
        llm_attempts=settings.llm_attempts,
        tool_choice=tool.name,
        check=check,
        again=f"Call {tool.name} again with corrected arguments.",
    )
    result = results[-1]
    last = attempts[-1]
    slm_calls = sum(a.by == "slm" for a in attempts)
    return StepRun(
        round=round_,
        number=number,
        tool=step.tool,
        purpose=step.purpose,
        ok=last.error is None,
        result=result if last.error is None else None,
        error=last.error,
        called_by=last.by,
        arguments=last.arguments,
        repairs=max(slm_calls - 1, 0),
        escalated=any(a.by == "llm" for a in attempts),
        attempts=attempts,
    )


def _attempt(
    by: Literal["slm", "llm"],
    model: str,
    call: ToolCall | None,
    tool: Tool,
    settings: CallerSettings,
) -> tuple[Attempt, str | None]:
    """Run one call of ``tool`` (only when valid and of that very tool)."""
    if call is None:
        error = f"no tool call was made; call {tool.name}"
        return Attempt(by=by, model=model, arguments={}, arguments_text="", error=error), None
    base = {
        "by": by,
        "model": model,
        "arguments": call.arguments,
        "arguments_text": call.arguments_text,
    }
    if call.error is not None:
        return Attempt(**base, error=call.error), None
    if call.name != tool.name:  # the model was offered one tool; nothing else ever runs
        return Attempt(**base, error=f"tool {call.name!r} is not {tool.name!r}"), None
    started = time.perf_counter()
    try:
        value = tool.run(call.arguments)
    except ToolArgumentsError as exc:
        return Attempt(**base, error=exc.message, tool_time_s=time.perf_counter() - started), None
    except Exception as exc:  # the tool's own failure is the step's error, shown to the caller
        error = f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        _report(tool.name, model, elapsed, error)
        return Attempt(**base, error=error, tool_time_s=elapsed), None
    elapsed = time.perf_counter() - started
    _report(tool.name, model, elapsed, None)
    return Attempt(**base, tool_time_s=elapsed), _as_text(value)[: settings.max_result_chars]


def _report(tool: str, model: str, duration_s: float, error: str | None) -> None:
    """A ``ToolRan`` event for the run's trace and live view, when anyone listens."""
    run = active_run()
    if run is not None and run.meter.events:
        event = ToolRan(run.run_id, "execute", tool, model, duration_s, error, time.time())
        run.meter.events.emit(event)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _caller_messages(
    settings: CallerSettings, question: str, step: Step, number: int, used: Sequence[StepRun]
) -> list[Message]:
    """The tool caller's chat: the task, the results it uses as tool turns, then the step."""
    messages = [
        Message(role="system", content=settings.system),
        Message(role="user", content=f"The task: {question}"),
    ]
    for earlier in used:
        call_id = f"step_{earlier.round}_{earlier.number}"
        call = ToolCall(
            id=call_id,
            name=earlier.tool,
            arguments=earlier.arguments,
            arguments_text=json.dumps(earlier.arguments),
        )
        messages.append(Message(role="assistant", tool_calls=(call,)))
        messages.append(
            Message(
                role="tool",
                content=fence(earlier.result or "", "tool_result"),
                tool_call_id=call_id,
                name=earlier.tool,
            )
        )
    messages.append(
        Message(role="user", content=f"Step {number}: {step.purpose}\nCall {step.tool} now.")
    )
    return messages
