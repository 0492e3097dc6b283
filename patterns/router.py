"""Router: decide, before anyone answers, whether the SLM or the LLM answers the question.

A router gives ``p_easy``, the probability that the SLM's answer suffices; the question goes
to the SLM when ``p_easy >= threshold``, else to the LLM. Unlike a cascade, nobody answers
twice: a routed question costs one answer plus the routing. Routers are plain functions
``question -> probability``; two come ready-made:

- ``DifficultyRouter``: the SLM's own probability of "yes" to "can a small model answer this
  correctly?", read from its logits (``score``);
- ``NeighbourRouter``: the k nearest labelled examples ``(question, slm_was_right)`` by the
  SLM's embeddings (``embed``) vote.

``calibrate`` picks the threshold from labelled examples for a target share of the LLM-only
accuracy. After RouteLLM (Ong et al., 2024), whose similarity-weighted and classifier routers
are trained on which model answered right, and FrugalGPT (Chen et al., 2023).

    graph = patterns.router.build(slm=slm, llm=llm, router=[("2 + 2?", True), ...])
    result = patterns.router.run("What is 17 * 23?", slm=slm, llm=llm)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.errors import UserError
from collab.evaluation.calibration import Calibration, SweepItem, choose
from collab.evaluation.metrics import Metric, get_metric
from collab.graph import LedgerState, node
from collab.models.base import Model
from collab.types import Completion

from .common import CompileOptions, PatternResult, arun_graph, run_graph
from .state_schemas import AnswerOutput, QuestionInput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = [
    "DifficultyRouter",
    "LabelledExample",
    "NeighbourRouter",
    "RouterConfig",
    "RouterFn",
    "RouterSpec",
    "RouterState",
    "arun",
    "build",
    "calibrate",
    "label_examples",
    "run",
]

RouterFn = Callable[[str], float]
"""``question -> p_easy``: the probability, in [0, 1], that the SLM's answer suffices."""
LabelledExample = tuple[str, bool]
"""``(question, slm_was_right)``: what a ``NeighbourRouter`` learns from."""
Route = Literal["slm", "llm"]

DIFFICULTY_PROMPT = (
    "Question: {question}\n"
    "Can a small language model answer this question correctly? Answer yes or no.\nAnswer:"
)


class RouterConfig(BaseModel):
    """The knobs of a router."""

    model_config = ConfigDict(frozen=True)

    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Route to the SLM when ``p_easy`` is at least this, else to the LLM."""
    k: int = Field(default=5, gt=0)
    """Neighbours that vote, for a router built from labelled examples."""
    difficulty_prompt: str = DIFFICULTY_PROMPT
    """What the default router asks the SLM to score "yes" / "no" after (``{question}``)."""
    system: str = "Answer the question correctly and briefly."
    slm_max_tokens: int = Field(default=128, gt=0)
    llm_max_tokens: int = Field(default=256, gt=0)


class RouterOutput(AnswerOutput, total=False):
    """``AnswerOutput``, with the probability the question is easy and the route taken."""

    p_easy: float
    route: Route


class RouterState(LedgerState, total=False):
    """The router's state: ``question`` in, ``answer`` out."""

    question: str
    p_easy: float
    route: Route
    answer: str
    answered_by: str
    escalated: bool
    details: dict[str, Any]


class DifficultyRouter:
    """``p_easy``: the model's probability of "yes" (against "no") after ``prompt``.

    Read from the logits (``score``), not from a number the model writes. One scoring call
    per question, metered as a local call.
    """

    name = "difficulty"

    def __init__(self, model: Model, *, prompt: str = DIFFICULTY_PROMPT) -> None:
        if not callable(getattr(model, "score", None)):
            raise UserError(
                f"the difficulty router's model {model.name!r} has no score()",
                hint="pass a LocalModel (or any model with score), or another router",
            )
        if "{question}" not in prompt:
            raise UserError(
                f"the difficulty prompt has no {{question}} placeholder: {prompt!r:.100}",
                hint="put {question} where the question goes",
            )
        self.model = metered(model)  # metered by the run of each invocation
        self.prompt = prompt

    def __call__(self, question: str) -> float:
        yes, _no = self.model.score(self.prompt.format(question=question), ["yes", "no"])  # type: ignore[attr-defined]
        return float(yes)


class NeighbourRouter:
    """``p_easy``: the share of the ``k`` most similar labelled questions the SLM got right.

    Similarity is the dot product of ``model.embed`` vectors (cosine: LocalModel's are
    L2-normalised). The examples are embedded once, in one call, on first use (or at
    ``prepare()``); each routed question then costs one embedding call.
    """

    name = "neighbours"

    def __init__(self, examples: Sequence[LabelledExample], *, model: Model, k: int = 5) -> None:
        if not callable(getattr(model, "embed", None)):
            raise UserError(
                f"the neighbour router's model {model.name!r} has no embed()",
                hint="pass a LocalModel (or any model with embed)",
            )
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}")
        pairs = list(examples)
        if not pairs or not all(isinstance(q, str) and q for q, _ in pairs):
            raise UserError(
                "the neighbour router needs labelled examples (question, slm_was_right), "
                f"got {examples!r:.100}",
                hint="label questions with patterns.router.label_examples(...)",
            )
        self.model = metered(model)  # metered by the run of each invocation
        self.k = k
        self.questions = [q for q, _ in pairs]
        self.labels = [bool(right) for _, right in pairs]
        self._vectors: Any = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Embed the examples now (metered by the active run, if any) instead of on first use."""
        self._example_vectors()

    def __call__(self, question: str) -> float:
        import numpy as np

        vectors = self._example_vectors()
        [query] = self.model.embed([question])  # type: ignore[attr-defined]
        similarity = vectors @ np.asarray(query, dtype=np.float32)
        nearest = np.argsort(-similarity, kind="stable")[: self.k]
        return float(sum(self.labels[i] for i in nearest) / len(nearest))

    def _example_vectors(self) -> Any:
        import numpy as np

        with self._lock:
            if self._vectors is None:
                embedded = self.model.embed(self.questions)  # type: ignore[attr-defined]
                self._vectors = np.asarray(embedded, dtype=np.float32)
            return self._vectors


RouterSpec = RouterFn | Sequence[LabelledExample] | None
"""What ``build`` takes as ``router``: a function (``DifficultyRouter``, ``NeighbourRouter``
or your own), labelled examples (a ``NeighbourRouter`` on the SLM with ``config.k``), or
``None`` (a ``DifficultyRouter`` on the SLM with ``config.difficulty_prompt``)."""


def build(
    *,
    slm: Model,
    llm: Model,
    config: RouterConfig | None = None,
    router: RouterSpec = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The router as a compiled LangGraph graph: route -> slm_answer | llm_answer.

    ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``, ``name=``, ...); a
    budget belongs to one invocation (``run(budget=)`` or the enclosing ``collab.Run``).
    """
    config = config or RouterConfig()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run
    p_easy_of = _router_fn(router, slm, config)
    kind = getattr(p_easy_of, "name", "function")

    @node(role="router")
    def route(state: RouterState) -> RouterState:
        p = _probability(p_easy_of(state["question"]), state["question"])
        return {"p_easy": p, "route": "slm" if p >= config.threshold else "llm"}

    @node(role="answerer")
    def slm_answer(state: RouterState) -> RouterState:
        done = _answer(slm, config, state["question"], config.slm_max_tokens)
        return _answered(state, done, kind, config, escalated=False)

    @node(role="answerer")
    def llm_answer(state: RouterState) -> RouterState:
        done = _answer(llm, config, state["question"], config.llm_max_tokens)
        return _answered(state, done, kind, config, escalated=True)

    def chosen(state: RouterState) -> str:
        return "slm_answer" if state["route"] == "slm" else "llm_answer"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(RouterState, input_schema=QuestionInput, output_schema=RouterOutput)
    graph.add_node("route", route)
    graph.add_node("slm_answer", slm_answer)
    graph.add_node("llm_answer", llm_answer)
    graph.add_edge(START, "route")
    graph.add_conditional_edges("route", chosen, ["slm_answer", "llm_answer"])
    graph.add_edge("slm_answer", END)
    graph.add_edge("llm_answer", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: RouterConfig | None = None,
    router: RouterSpec = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question in its own metered run (or in ``run``).

    ``escalated`` is True when the question was routed to the LLM; ``details`` holds
    ``route``, ``p_easy``, ``threshold`` and ``router`` (its kind).
    """
    graph = build(slm=slm, llm=llm, config=config, router=router)
    return run_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: RouterConfig | None = None,
    router: RouterSpec = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config, router=router)
    return await arun_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


def calibrate(
    examples: Sequence[tuple[str, str]],
    *,
    slm: Model,
    llm: Model,
    metric: str | Metric = "contains",
    keep: float = 0.95,
    config: RouterConfig | None = None,
    router: RouterSpec = None,
) -> Calibration:
    """The cheapest threshold that keeps ``keep`` of the LLM-only accuracy on ``examples``.

    Each (question, reference) is routed once and answered once by each side, so every
    threshold is evaluated without further calls. A routed question pays its routing and
    one answer: the sweep counts an escalation as replacing the SLM's answer
    (``escalation="replaces"``), and the LLM-only and SLM-only figures leave the routing out.
    Keep the examples apart from the labelled ones a ``NeighbourRouter`` learns from, or its
    ``p_easy`` is too good.
    """
    config = config or RouterConfig()
    score = get_metric(metric)
    slm, llm = metered(slm), metered(llm)
    p_easy_of = _router_fn(router, slm, config)
    if isinstance(p_easy_of, NeighbourRouter):
        p_easy_of.prepare()  # once, outside the examples' runs: no example pays for it
    items = []
    for question, reference in examples:
        with Run(local_model=slm, remote_model=llm) as routing:
            p = _probability(p_easy_of(question), question)
        with Run(local_model=slm, remote_model=llm) as cheap:
            slm_done = _answer(slm, config, question, config.slm_max_tokens)
        with Run(local_model=slm, remote_model=llm) as expensive:
            llm_done = _answer(llm, config, question, config.llm_max_tokens)
        items.append(
            SweepItem(
                confidence=p,
                confidence_usd=routing.ledger.total().cost_usd,
                cheap_score=score(slm_done.text.strip(), reference),
                cheap_usd=cheap.ledger.total().cost_usd,
                expensive_score=score(llm_done.text.strip(), reference),
                expensive_usd=expensive.ledger.total().cost_usd,
            )
        )
    return choose(items, keep=keep, escalation="replaces")


def label_examples(
    examples: Sequence[tuple[str, str]],
    *,
    slm: Model,
    metric: str | Metric = "contains",
    config: RouterConfig | None = None,
) -> list[LabelledExample]:
    """``(question, slm_was_right)`` for each (question, reference): the SLM answers each once.

    What a ``NeighbourRouter`` learns from; "right" is a metric score of at least 0.5.
    """
    config = config or RouterConfig()
    slm = metered(slm)
    score = get_metric(metric)
    labelled = []
    for question, reference in examples:
        done = _answer(slm, config, question, config.slm_max_tokens)
        labelled.append((question, score(done.text.strip(), reference) >= 0.5))
    return labelled


def _answered(
    state: RouterState, done: Completion, kind: str, config: RouterConfig, *, escalated: bool
) -> RouterState:
    return {
        "answer": done.text.strip(),
        "answered_by": done.model,
        "escalated": escalated,
        "details": {
            "route": state["route"],
            "p_easy": state["p_easy"],
            "threshold": config.threshold,
            "router": kind,
        },
    }


def _answer(model: Model, config: RouterConfig, question: str, max_tokens: int) -> Completion:
    messages = [
        {"role": "system", "content": config.system},
        {"role": "user", "content": question},
    ]
    return model.complete(messages, max_tokens=max_tokens)


def _router_fn(router: RouterSpec, slm: Model, config: RouterConfig) -> RouterFn:
    if router is None:
        return DifficultyRouter(slm, prompt=config.difficulty_prompt)
    if callable(router):
        return router
    if isinstance(router, Sequence) and not isinstance(router, str):
        return NeighbourRouter(router, model=slm, k=config.k)
    raise UserError(
        f"router must be a function, labelled examples or None, got {router!r:.100}",
        hint="pass e.g. router=[('What is 2 + 2?', True), ...] or router=lambda q: 0.5",
    )


def _probability(p: float, question: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:  # NaN too
        raise UserError(
            f"the router returned {p!r} for {question!r:.80}: not a probability",
            hint="a router returns the probability, in [0, 1], that the SLM's answer suffices",
        )
    return p
