"""SLM judges LLM: the remote LLM answers; local judges check the answer before it is returned.

Each judge (``patterns.answer_judges``) gives a ``Verdict``: a probability that the answer
passes and the threshold it must reach. The built-ins: ``RubricJudge`` (does the answer meet
each criterion? P("yes") from the SLM's logits), ``GroundednessJudge`` (is every sentence of
the answer supported by the sources?) and ``FormatGuard`` (regex, pydantic schema, length,
banned terms; optionally an SLM-scored safety question). Any object with a ``name`` and
``__call__(question, answer, sources) -> Verdict`` is a judge too. When a verdict fails, the
LLM is asked to repair its answer with the failed verdicts' reasons as feedback, at most
``max_repairs`` times; each repair is judged again. ``calibrate_judge`` fits a judge's
threshold on labelled answers. The judges are re-exported here.

After LLM-as-a-judge (Zheng et al., 2023), with the judge's P(True) read from logits
(Kadavath et al., 2022); claim-level groundedness as in SelfCheckGPT (Manakul et al., 2023);
feedback-driven repair as in Self-Refine (Madaan et al., 2023).

    judges = [RubricJudge(model=slm, criteria=["cites a source"]), GroundednessJudge(model=slm)]
    result = patterns.slm_judges_llm.run(question, sources=docs, llm=llm, slm=slm, judges=judges)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, Unpack

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.errors import UserError
from collab.graph import LedgerState, node
from collab.models.base import Model

from .answer_judges import (
    AnswerJudge,
    FormatGuard,
    GroundednessJudge,
    JudgeCalibration,
    ProgramJudge,
    RubricJudge,
    Scorer,
    calibrate_judge,
    numbered_sources,
    split_claims,
)
from .common import (
    CompileOptions,
    PatternResult,
    Verdict,
    arun_graph,
    as_state,
    result_from,
    run_graph,
    verdicts_in,
)
from .state_schemas import AnswerOutput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = [
    "AnswerJudge",
    "Attempt",
    "FormatGuard",
    "GroundednessJudge",
    "JudgeCalibration",
    "JudgedAnswerConfig",
    "JudgedAnswerState",
    "ProgramJudge",
    "RubricJudge",
    "Scorer",
    "arun",
    "build",
    "calibrate_judge",
    "result_of",
    "run",
    "split_claims",
]


# -- the pattern ---------------------------------------------------------------------------


class JudgedAnswerConfig(BaseModel):
    """The knobs of the judged answer (each judge carries its own threshold)."""

    model_config = ConfigDict(frozen=True)

    max_repairs: int = Field(default=2, ge=0)
    """How many times the LLM may repair a failed answer; then the last one is returned."""
    system: str = (
        "Answer the question correctly and briefly. "
        "When sources are given, say only what they support."
    )
    answer_max_tokens: int = Field(default=256, gt=0)
    repair_prompt: str = (
        "Your answer has these problems:\n{problems}\n\n"
        "Rewrite your answer to the question so that it fixes them. Reply with the new answer only."
    )
    """The feedback turn after the failed answer; ``{problems}``: a line per failed verdict."""


class Attempt(BaseModel):
    """One answer (the first, or a repair) and its verdicts."""

    model_config = ConfigDict(frozen=True)

    answer: str
    answered_by: str
    passed: bool
    verdicts: list[Verdict]


class JudgedAnswerInput(TypedDict):
    """The question, with the sources a grounded answer must keep to."""

    question: str
    sources: NotRequired[list[str]]


class JudgedAnswerOutput(AnswerOutput, total=False):
    """``AnswerOutput`` and whether the last attempt passed its judges."""

    passed: bool


class JudgedAnswerState(LedgerState, total=False):
    """``question`` (and ``sources``) in; ``answer``, ``verdicts`` and ``details`` out."""

    question: str
    sources: list[str]
    answer: str
    answered_by: str
    verdicts: list[dict[str, Any]]
    """The last attempt's ``Verdict``s, as dicts (``result.verdicts`` has them typed)."""
    passed: bool
    repairs: int
    attempts: list[dict[str, Any]]
    """Every ``Attempt``, as a dict (``result.details["attempts"]`` has them typed)."""
    details: dict[str, Any]


def build(
    *,
    llm: Model,
    slm: Model,
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The pattern as a compiled LangGraph graph: answer -> judge -> (repair -> judge)* -> finish.

    ``judges`` default to a ``RubricJudge`` on ``slm``, plus a ``GroundednessJudge`` on it
    when the invocation has sources. ``slm`` is also where a "degrade" budget policy sends the
    LLM's calls. ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``,
    ``name=``, ...); a budget belongs to one invocation (``run(budget=)`` or the enclosing
    ``collab.Run``).
    """
    config = config or JudgedAnswerConfig()
    chosen = list(judges) if judges is not None else None
    if chosen is None and not callable(getattr(slm, "score", None)):
        raise UserError(
            f"the default judges score with the SLM, and {slm!r} has no score()",
            hint="pass a LocalModel (or any model with score) as slm=, or your own judges=",
        )
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run
    scorer: Scorer = slm  # type: ignore[assignment]  (checked above: it has score)
    rubric, grounded = RubricJudge(model=scorer), GroundednessJudge(model=scorer)

    def judges_for(sources: Sequence[str]) -> list[AnswerJudge]:
        if chosen is not None:
            return chosen
        return [rubric, grounded] if sources else [rubric]

    @node(role="answerer")
    def answer(state: JudgedAnswerState) -> JudgedAnswerState:
        messages = _answer_messages(config, state["question"], state.get("sources", []))
        done = llm.complete(messages, max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "repairs": 0,
            "attempts": [],
        }

    @node(role="judge")
    def judge(state: JudgedAnswerState) -> JudgedAnswerState:
        sources = state.get("sources", [])
        verdicts = [j(state["question"], state["answer"], sources) for j in judges_for(sources)]
        passed = all(v.passed for v in verdicts)
        attempt = Attempt(
            answer=state["answer"],
            answered_by=state["answered_by"],
            passed=passed,
            verdicts=verdicts,
        )
        return {
            "verdicts": as_state(verdicts),
            "passed": passed,
            "attempts": [*state.get("attempts", []), *as_state([attempt])],
        }

    @node(role="repairer")
    def repair(state: JudgedAnswerState) -> JudgedAnswerState:
        done = llm.complete(_repair_messages(config, state), max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "repairs": state["repairs"] + 1,
        }

    def finish(state: JudgedAnswerState) -> JudgedAnswerState:
        details = {
            "repairs": state["repairs"],
            "passed": state["passed"],
            "attempts": state["attempts"],
        }
        return {"details": details}

    def route(state: JudgedAnswerState) -> Literal["repair", "finish"]:
        if not state["passed"] and state["repairs"] < config.max_repairs:
            return "repair"
        return "finish"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(
        JudgedAnswerState, input_schema=JudgedAnswerInput, output_schema=JudgedAnswerOutput
    )
    graph.add_node("answer", answer)
    graph.add_node("judge", judge)
    graph.add_node("repair", repair)
    graph.add_node("finish", finish)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", "judge")
    graph.add_conditional_edges("judge", route, ["repair", "finish"])
    graph.add_edge("repair", "judge")
    graph.add_edge("finish", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    llm: Model,
    slm: Model,
    sources: Sequence[str] = (),
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question and judge it, in its own metered run (or in ``run``).

    ``result.details``: ``repairs`` (how many), ``passed`` (the last attempt's verdicts all
    passed; ``False`` when repairs ran out, nothing is raised) and ``attempts`` (every
    ``Attempt``); ``result.verdicts`` are the last attempt's.
    """
    graph = build(llm=llm, slm=slm, judges=judges, config=config)
    inputs = {"question": question, "sources": list(sources)}
    return run_graph(graph, inputs, run=run, budget=budget, slm=slm, llm=llm, read=result_of)


async def arun(
    question: str,
    *,
    llm: Model,
    slm: Model,
    sources: Sequence[str] = (),
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(llm=llm, slm=slm, judges=judges, config=config)
    inputs = {"question": question, "sources": list(sources)}
    return await arun_graph(graph, inputs, run=run, budget=budget, slm=slm, llm=llm, read=result_of)


def result_of(state: Mapping[str, Any]) -> PatternResult:
    """The result of the graph's final state: ``result_from``, with ``details["attempts"]``
    as ``Attempt``s (the state keeps them as dicts). Pass it as ``read=`` to ``run_graph``
    when invoking ``build()``'s graph yourself."""
    result = result_from(state)
    attempts = [Attempt.model_validate(a) for a in result.details.get("attempts", [])]
    return result.model_copy(update={"details": {**result.details, "attempts": attempts}})


def _answer_messages(
    config: JudgedAnswerConfig, question: str, sources: Sequence[str]
) -> list[dict[str, str]]:
    listed = numbered_sources(sources)
    content = f"Sources:\n{listed}\n\nQuestion: {question}" if sources else question
    return [{"role": "system", "content": config.system}, {"role": "user", "content": content}]


def _repair_messages(config: JudgedAnswerConfig, state: JudgedAnswerState) -> list[dict[str, str]]:
    """Self-Refine's feedback turn: the question, the failed answer, what the judges said."""
    problems = "\n".join(
        f"- {v.judge}: {v.reason or f'p={v.probability:.2f} < {v.threshold:.2f}'}"
        for v in verdicts_in(state)
        if not v.passed
    )
    return [
        *_answer_messages(config, state["question"], state.get("sources", [])),
        {"role": "assistant", "content": state["answer"]},
        {"role": "user", "content": config.repair_prompt.format(problems=problems)},
    ]
