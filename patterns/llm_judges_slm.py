"""LLM judges SLM: the local SLM answers; the remote LLM grades the answer from 1 to 5.

For evaluation: how good are the SLM's answers, by a stronger model's judgement? The LLM
replies with a structured ``Grade`` (``schema=``, validated into ``Completion.parsed``). When
its reply is not a valid grade, it is shown its reply and the error and asked once more; a
second failure gives a failed verdict saying so (nothing is raised). ``evaluate_slm`` grades a
list of questions in one metered run and returns the mean score with the ledger.

After LLM-as-a-judge single-answer grading (Zheng et al., 2023) and G-Eval (Liu et al., 2023),
with an optional reference answer to grade against.

    result = patterns.llm_judges_slm.run("What is 17 * 23?", reference="391", slm=slm, llm=llm)
    report = patterns.llm_judges_slm.evaluate_slm([("What is 17 * 23?", "391")], slm=slm, llm=llm)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NotRequired, Unpack

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from collab.budget.ledger import Ledger
from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.errors import InvalidOutputError
from collab.graph import LedgerState, node
from collab.models.base import Model
from collab.types import Completion

from .common import CompileOptions, PatternResult, Verdict, arun_graph, as_state, run_graph
from .state_schemas import AnswerOutput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = [
    "Grade",
    "GradingConfig",
    "GradingState",
    "SLMEvaluation",
    "arun",
    "build",
    "evaluate_slm",
    "run",
]


class Grade(BaseModel):
    """The LLM's grade of an answer."""

    score: int = Field(ge=1, le=5)
    """1: wrong or useless ... 5: correct and complete."""
    reason: str


class GradingConfig(BaseModel):
    """The knobs of the grading."""

    model_config = ConfigDict(frozen=True)

    pass_score: int = Field(default=4, ge=1, le=5)
    """The verdict passes at this grade or above."""
    system: str = "Answer the question correctly and briefly."
    """The SLM's system message."""
    answer_max_tokens: int = Field(default=128, gt=0)
    grade_max_tokens: int = Field(default=192, gt=0)
    grader_system: str = (
        "You grade answers to questions. Reply with a JSON object only, with two keys: "
        '"score", an integer from 1 (wrong or useless) to 5 (correct and complete), and '
        '"reason", a short sentence saying why.'
    )
    grading_prompt: str = "Question: {question}\n{reference}Answer to grade: {answer}"
    reference_line: str = "Reference answer (correct): {reference}\n"
    """How a reference answer, when given, appears in the grading prompt."""


class GradingInput(TypedDict):
    """The question, with a reference answer to grade against when there is one."""

    question: str
    reference: NotRequired[str]


class GradingState(LedgerState, total=False):
    """``question`` (and an optional ``reference``) in; ``answer`` and ``verdicts`` out."""

    question: str
    reference: str
    answer: str
    answered_by: str
    verdicts: list[dict[str, Any]]
    """The grade's ``Verdict``, as a dict (``result.verdicts`` has it typed)."""
    details: dict[str, Any]


def build(
    *,
    slm: Model,
    llm: Model,
    config: GradingConfig | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The pattern as a compiled LangGraph graph: answer (SLM) -> grade (LLM).

    ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``, ``name=``, ...); a
    budget belongs to one invocation (``run(budget=)`` or the enclosing ``collab.Run``).
    """
    config = config or GradingConfig()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run
    threshold = (config.pass_score - 1) / 4

    @node(role="answerer")
    def answer(state: GradingState) -> GradingState:
        messages = [
            {"role": "system", "content": config.system},
            {"role": "user", "content": state["question"]},
        ]
        done = slm.complete(messages, max_tokens=config.answer_max_tokens)
        return {"answer": done.text.strip(), "answered_by": done.model}

    @node(role="judge")
    def grade(state: GradingState) -> GradingState:
        messages = _grading_messages(config, state)
        done, retries, error = _grade(llm, messages, config.grade_max_tokens)
        if done is None:
            verdict = Verdict(
                judge="grade",
                passed=False,
                probability=0.0,
                threshold=threshold,
                reason=f"the grader gave no valid grade in {retries + 1} tries: {error}",
            )
            details = {"score": None, "graded_by": None, "grade_retries": retries}
            return {"verdicts": as_state([verdict]), "details": details}
        graded: Grade = done.parsed
        verdict = Verdict(
            judge="grade",
            passed=graded.score >= config.pass_score,
            probability=(graded.score - 1) / 4,
            threshold=threshold,
            reason=f"{graded.score}/5: {graded.reason}",
        )
        details = {"score": graded.score, "graded_by": done.model, "grade_retries": retries}
        return {"verdicts": as_state([verdict]), "details": details}

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(GradingState, input_schema=GradingInput, output_schema=AnswerOutput)
    graph.add_node("answer", answer)
    graph.add_node("grade", grade)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", "grade")
    graph.add_edge("grade", END)
    return graph.compile(**compile_options)


def _grade(
    llm: Model, messages: list[dict[str, str]], max_tokens: int
) -> tuple[Completion | None, int, str | None]:
    """The grading call, retried once on an invalid grade: (completion, retries, last error)."""
    try:
        return llm.complete(messages, max_tokens=max_tokens, schema=Grade), 0, None
    except InvalidOutputError as error:
        retry = [
            *messages,
            {"role": "assistant", "content": error.text},
            {
                "role": "user",
                "content": f"That reply is not a valid grade ({error.message}). Reply with a "
                'JSON object only, with two keys: "score", an integer from 1 to 5, and '
                '"reason", a short sentence saying why.',
            },
        ]
    try:
        return llm.complete(retry, max_tokens=max_tokens, schema=Grade), 1, None
    except InvalidOutputError as error:
        return None, 1, error.message


def _grading_messages(config: GradingConfig, state: GradingState) -> list[dict[str, str]]:
    reference = state.get("reference")
    line = config.reference_line.format(reference=reference) if reference else ""
    prompt = config.grading_prompt.format(
        question=state["question"], reference=line, answer=state["answer"]
    )
    return [
        {"role": "system", "content": config.grader_system},
        {"role": "user", "content": prompt},
    ]


def _inputs(question: str, reference: str | None) -> dict[str, str]:
    return (
        {"question": question}
        if reference is None
        else {"question": question, "reference": reference}
    )


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    reference: str | None = None,
    config: GradingConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer with the SLM and grade with the LLM, in its own metered run (or in ``run``).

    ``result.verdicts[0]``: the grade rescaled to a probability, (score - 1) / 4 (a grade,
    not a probability read from logits); ``result.details``: ``score`` (``None`` when the
    grader gave no valid grade), ``graded_by`` and ``grade_retries``.
    """
    graph = build(slm=slm, llm=llm, config=config)
    return run_graph(graph, _inputs(question, reference), run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    reference: str | None = None,
    config: GradingConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config)
    return await arun_graph(
        graph, _inputs(question, reference), run=run, budget=budget, slm=slm, llm=llm
    )


class SLMEvaluation(BaseModel):
    """The SLM's grades over a list of questions."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mean_score: float | None
    """Mean of the valid grades, 1..5 (``None``: no valid grade at all)."""
    pass_rate: float
    """Share of questions whose verdict passed (an invalid grade counts as a fail)."""
    scores: list[int | None]
    """Each question's grade, in order (``None``: no valid grade)."""
    results: list[PatternResult]
    ledger: Ledger
    """Every call of the evaluation."""


def evaluate_slm(
    questions: Sequence[str | tuple[str, str]],
    *,
    slm: Model,
    llm: Model,
    config: GradingConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> SLMEvaluation:
    """Grade the SLM's answers to ``questions`` (each a question or (question, reference)).

    All in one metered run (``run``, or a new one with ``budget``): the budget caps the
    whole evaluation.
    """
    graph = build(slm=slm, llm=llm, config=config)
    own = run or Run(budget=budget, local_model=slm, remote_model=llm)
    results = []
    for item in questions:
        question, reference = (item, None) if isinstance(item, str) else item
        results.append(run_graph(graph, _inputs(question, reference), run=own))
    scores: list[int | None] = [r.details.get("score") for r in results]
    valid = [s for s in scores if s is not None]
    return SLMEvaluation(
        mean_score=sum(valid) / len(valid) if valid else None,
        pass_rate=sum(r.verdicts[0].passed for r in results) / len(results) if results else 0.0,
        scores=scores,
        results=results,
        ledger=Ledger(
            run_id=own.run_id, records=[rec for r in results for rec in r.ledger.records]
        ),
    )
