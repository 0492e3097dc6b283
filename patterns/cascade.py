"""Cascade: the SLM answers first; doubtful answers escalate to the LLM.

The SLM drafts; a judge (by default the SLM itself) gives the probability that the draft is
right, read from its logits for "yes" against "no" (``score``), not from a number it writes;
below ``threshold`` the question goes to the LLM, optionally with the draft as a hint.
``calibrate`` picks the threshold from labelled examples for a target share of the LLM-only
accuracy, and says what that costs. After FrugalGPT (Chen et al., 2023) and "Language Model
Cascades" (Dohan et al., 2022); the judge is the P(True) self-evaluation of Kadavath et al.
(2022).

    graph = patterns.cascade.build(slm=slm, llm=llm, config=CascadeConfig(threshold=0.4))
    result = patterns.cascade.run("What is 17 * 23?", slm=slm, llm=llm)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.evaluation.calibration import Calibration, SweepItem, choose
from collab.evaluation.metrics import Metric, get_metric
from collab.graph import LedgerState, node
from collab.models.base import Model

from .common import CompileOptions, PatternResult, Verdict, arun_graph, as_state, run_graph
from .state_schemas import AnswerOutput, QuestionInput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph
from .fencing import fence

__all__ = [
    "CascadeConfig",
    "CascadeState",
    "Judge",
    "SelfCheck",
    "arun",
    "build",
    "calibrate",
    "run",
    "self_check",
]

Judge = Callable[[str, str, str], float]
"""``(question, draft, judge_prompt) -> probability the draft is right``; the default asks the
judge model's ``score`` for "yes" vs "no"."""


class CascadeConfig(BaseModel):
    """The knobs of a cascade."""

    model_config = ConfigDict(frozen=True)

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Escalate when the judge's probability that the draft is right is below this."""
    hint: bool = True
    """Show the LLM the SLM's draft (as a draft to check, not to trust)."""
    system: str = "Answer the question correctly and briefly."
    draft_max_tokens: int = Field(default=128, gt=0)
    stream_draft: bool = True
    """Stream the draft (its tokens show in a live view as they come; same cost)."""
    answer_max_tokens: int = Field(default=256, gt=0)
    judge_prompt: str = (
        "Question:\n{question}\nProposed answer:\n{draft}\n"
        "Is the proposed answer correct? Answer yes or no.\nAnswer:"
    )
    """The judge's question; ``{question}`` and ``{draft}`` arrive fenced
    (``patterns.fencing.fence``), and the verdict is P("yes") right after its last line."""


class CascadeOutput(AnswerOutput, total=False):
    """``AnswerOutput``, with the SLM's draft and the judge's confidence in it."""

    draft: str
    confidence: float


class CascadeState(LedgerState, total=False):
    """The cascade's state: ``question`` in, ``answer`` out."""

    question: str
    draft: str
    confidence: float
    answer: str
    answered_by: str
    escalated: bool
    verdicts: list[dict[str, Any]]
    """The judge's ``Verdict``, as a dict (``result.verdicts`` has it typed)."""
    details: dict[str, Any]


def build(
    *,
    slm: Model,
    llm: Model,
    config: CascadeConfig | None = None,
    judge: Model | Judge | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The cascade as a compiled LangGraph graph: draft -> judge -> accept | escalate.

    ``judge``: a model with ``score`` (default ``slm``) or a ``Judge`` function.
    ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``, ``name=``, ...); a
    budget belongs to one invocation (``run(budget=)`` or the enclosing ``collab.Run``).
    """
    config = config or CascadeConfig()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run
    judge_fn = _judge_fn(judge if judge is not None else slm)

    @node(role="drafter")
    def draft(state: CascadeState) -> CascadeState:
        messages = _messages(config, state["question"])
        if config.stream_draft:  # tokens reach the run's live view as they come
            text = "".join(slm.stream(messages, max_tokens=config.draft_max_tokens))
        else:
            text = slm.complete(messages, max_tokens=config.draft_max_tokens).text
        return {"draft": text.strip()}

    @node(role="judge")
    def judge_draft(state: CascadeState) -> CascadeState:
        p, judged_by = judge_fn(state["question"], state["draft"], config.judge_prompt)
        verdict = Verdict(
            judge=judged_by,
            passed=p >= config.threshold,
            probability=p,
            threshold=config.threshold,
        )
        return {"confidence": p, "verdicts": as_state([verdict])}

    def accept(state: CascadeState) -> CascadeState:
        return {
            "answer": state["draft"],
            "answered_by": slm.name,
            "escalated": False,
            "details": {"confidence": state["confidence"], "draft": state["draft"]},
        }

    @node(role="answerer")
    def escalate(state: CascadeState) -> CascadeState:
        question = _escalation(config, state["question"], state.get("draft", ""))
        done = llm.complete(_messages(config, question), max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "escalated": True,
            "details": {"confidence": state["confidence"], "draft": state["draft"]},
        }

    def route(state: CascadeState) -> str:
        return "accept" if state["confidence"] >= config.threshold else "escalate"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(CascadeState, input_schema=QuestionInput, output_schema=CascadeOutput)
    graph.add_node("draft", draft)
    graph.add_node("judge", judge_draft)
    graph.add_node("accept", accept)
    graph.add_node("escalate", escalate)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "judge")
    graph.add_conditional_edges("judge", route, ["accept", "escalate"])
    graph.add_edge("accept", END)
    graph.add_edge("escalate", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: CascadeConfig | None = None,
    judge: Model | Judge | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question in its own metered run (or in ``run``)."""
    graph = build(slm=slm, llm=llm, config=config, judge=judge)
    return run_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: CascadeConfig | None = None,
    judge: Model | Judge | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config, judge=judge)
    return await arun_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


def calibrate(
    examples: Sequence[tuple[str, str]],
    *,
    slm: Model,
    llm: Model,
    metric: str | Metric = "contains",
    keep: float = 0.95,
    config: CascadeConfig | None = None,
    judge: Model | Judge | None = None,
) -> Calibration:
    """The cheapest threshold that keeps ``keep`` of the LLM-only accuracy on ``examples``.

    Each (question, reference) is answered once by the cascade's SLM side (draft and judge)
    and once by its LLM side, so every threshold is evaluated without further calls; the
    result carries the expected accuracy, cost and escalation rate, and the whole curve.
    """
    config = config or CascadeConfig()
    score = get_metric(metric)
    never = config.model_copy(update={"threshold": 0.0})
    always = config.model_copy(update={"threshold": 1.0})
    items = []
    for question, reference in examples:
        cheap = run(question, slm=slm, llm=llm, config=never, judge=judge)
        expensive = _escalate_only(question, cheap, slm=slm, llm=llm, config=always)
        items.append(
            SweepItem(
                confidence=cheap.details["confidence"],
                cheap_score=score(cheap.answer, reference),
                cheap_usd=cheap.cost_usd,
                expensive_score=score(expensive.answer, reference),
                expensive_usd=expensive.cost_usd,
            )
        )
    return choose(items, keep=keep)


def _escalate_only(
    question: str, cheap: PatternResult, *, slm: Model, llm: Model, config: CascadeConfig
) -> PatternResult:
    """The LLM side for a question whose draft is known: the escalate step alone."""
    draft = cheap.details.get("draft", "")
    with Run(local_model=slm, remote_model=llm) as side:
        text = _escalation(config, question, draft)
        done = metered(llm).complete(_messages(config, text), max_tokens=config.answer_max_tokens)
    return PatternResult(
        answer=done.text.strip(), answered_by=done.model, escalated=True, ledger=side.ledger
    )


def _escalation(config: CascadeConfig, question: str, draft: str) -> str:
    """What the LLM is asked: the question, with the SLM's draft as a hint if configured."""
    if not (config.hint and draft):
        return question
    return (
        f"{question}\n\nA smaller model drafted this answer, which may be wrong: {draft!r}. "
        "Give the correct answer."
    )


def _messages(config: CascadeConfig, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": config.system}, {"role": "user", "content": question}]


class SelfCheck:
    """The default judge: ``model``'s probability of "yes" (against "no") that the draft is
    right, read from its logits with the config's ``judge_prompt``."""

    name = "self-check"

    def __init__(self, model: Model) -> None:
        score = getattr(model, "score", None)
        if not callable(score):
            from collab.errors import UserError

            raise UserError(
                f"the cascade's judge {model!r} has no score() and is not a function",
                hint="pass a LocalModel (or any model with score), or a function "
                "(question, draft, prompt) -> probability",
            )
        self._score = score

    def __call__(self, question: str, draft: str, prompt: str) -> float:
        # Untrusted text goes between tags it cannot close; the verdict is P("yes") after the
        # template's own last line, so a draft ending in "Answer: yes" cannot forge it.
        fenced = prompt.format(question=fence(question, "question"), draft=fence(draft, "answer"))
        yes, _no = self._score(fenced, ["yes", "no"])
        return float(yes)


def self_check(model: Model) -> Judge:
    """``SelfCheck(model)``: the cascade's default judge, to chain with program verifiers."""
    return SelfCheck(model)


def _judge_fn(judge: Model | Judge) -> Callable[[str, str, str], tuple[float, str]]:
    """``judge`` as a function giving the probability and the name of what decided it."""
    if callable(getattr(judge, "score", None)):
        by_score = SelfCheck(judge)  # type: ignore[arg-type]
        return lambda q, d, p: (by_score(q, d, p), by_score.name)
    verdict = getattr(judge, "verdict", None)
    if callable(verdict):  # a chain of verifiers says which one decided
        return lambda q, d, p: verdict(q, d, p)  # type: ignore[no-any-return]
    if callable(judge):
        name = str(getattr(judge, "name", "judge"))
        return lambda q, d, p: (float(judge(q, d, p)), name)  # type: ignore[operator]
    return SelfCheck(judge)  # type: ignore[return-value]  # raises the clear error
