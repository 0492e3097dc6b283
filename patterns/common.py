"""What every pattern shares: its result, judges' verdicts, and running it in a metered run.

Each pattern module offers ``build(models..., **compile_options)`` (a ``CompiledStateGraph``
whose state has a ``question`` in and an ``answer`` out, and carries its calls in
``collab_calls``, so it works as a subgraph; its models are wrapped with ``collab.metered``
once, so whatever run is active for an invocation meters them), ``run(question, ...)`` /
``arun`` (one invocation in its own ``collab.Run`` with ``budget=`` unless the caller passes
``run=`` or one is active, returning a ``PatternResult``), and a typed config.

Graph state holds plain JSON values only: models such as ``Verdict`` go in as dicts
(``as_state``) and come back typed in the ``PatternResult`` (``result_from``), so a
checkpointer stores and loads the state without registering any of our types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.ledger import Ledger
from collab.budget.run import Run, active_run
from collab.graph import GraphRun, ainvoke, invoke, ledger_of

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.cache.base import BaseCache
    from langgraph.store.base import BaseStore
    from langgraph.types import All, Checkpointer

    from collab.budget.limits import Budget
    from collab.models.base import Model

__all__ = [
    "CompileOptions",
    "PatternResult",
    "ReadResult",
    "Verdict",
    "arun_graph",
    "as_state",
    "result_from",
    "run_graph",
    "verdicts_in",
]


class CompileOptions(TypedDict, total=False):
    """What a pattern's ``build`` passes to LangGraph's ``StateGraph.compile``."""

    checkpointer: Checkpointer
    """Saves the state after each step (the "interrupt" budget policy needs one)."""
    cache: BaseCache | None
    store: BaseStore | None
    interrupt_before: All | list[str] | None
    interrupt_after: All | list[str] | None
    debug: bool
    name: str | None


class Verdict(BaseModel):
    """One judge's opinion of an answer."""

    model_config = ConfigDict(frozen=True)

    judge: str
    """Which judge: "rubric", "grounded", "format", "self-check", ..."""
    passed: bool
    probability: float
    """The judge's probability that the answer passes (from the model's logits)."""
    threshold: float
    """The probability needed to pass."""
    reason: str | None = None


class PatternResult(BaseModel):
    """What a pattern returns: the answer, who produced it, the verdicts and the ledger."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    answer: str
    answered_by: str
    """The model that produced the final answer."""
    escalated: bool = False
    """Whether the remote LLM was asked (cascade, router) for the answer."""
    degraded: bool = False
    """Whether a budget policy answered a remote call with the local model instead."""
    verdicts: list[Verdict] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    """Pattern-specific facts (confidence, draft, tokens saved, repairs, ...)."""
    ledger: Ledger = Field(default_factory=Ledger)
    """The calls this invocation made."""

    @property
    def cost_usd(self) -> float:
        """Known remote and local cost of this invocation's calls."""
        return self.ledger.total().cost_usd


def as_state(models: Iterable[BaseModel]) -> list[dict[str, Any]]:
    """Models as graph state keeps them: JSON dicts (``model_dump(mode="json")``).

    A checkpointer stores and loads dicts as they are; a pydantic model in the state would
    load as a type LangGraph has not registered (it warns now, and means to refuse it).
    """
    return [model.model_dump(mode="json") for model in models]


def verdicts_in(state: Mapping[str, Any]) -> list[Verdict]:
    """The ``verdicts`` a graph state carries (as dicts, or as ``Verdict``s), as ``Verdict``s."""
    return [Verdict.model_validate(v) for v in state.get("verdicts", [])]


def result_from(state: Mapping[str, Any], **details: Any) -> PatternResult:
    """A ``PatternResult`` from a pattern graph's final state (its keys named as here)."""
    ledger = ledger_of(state)
    return PatternResult(
        answer=state.get("answer", ""),
        answered_by=state.get("answered_by", ""),
        escalated=bool(state.get("escalated", False)),
        degraded=any(r.outcome == "degraded" for r in ledger.records),
        verdicts=verdicts_in(state),
        details={**state.get("details", {}), **details},
        ledger=ledger,
    )


ReadResult = Callable[[Mapping[str, Any]], PatternResult]
"""How a pattern's result is read from its graph's final state (default ``result_from``)."""


def invocation_run(
    run: Run | None, budget: Budget | None, slm: Model | None, llm: Model | None
) -> Run | None:
    """The run one pattern invocation is metered by: the caller's ``run``, else a new one
    with ``budget`` (degrading to ``slm``, saving against ``llm``); ``None`` with neither,
    so an enclosing ``collab.Run`` meters it."""
    if run is not None:
        if budget is not None:
            raise TypeError("pass either run= or budget=, not both: the run has its budget")
        return run
    if budget is None and active_run() is not None:
        return None
    return Run(budget=budget, local_model=slm, remote_model=llm)


def run_graph(
    graph: Any,
    inputs: Mapping[str, Any],
    config: RunnableConfig | None = None,
    *,
    run: Run | None = None,
    budget: Budget | None = None,
    slm: Model | None = None,
    llm: Model | None = None,
    read: ReadResult = result_from,
) -> PatternResult:
    """Invoke a pattern graph in ``invocation_run(run, budget, slm, llm)`` and ``read`` its
    result.

    ``config`` goes to LangGraph: a graph compiled with a checkpointer needs a
    ``{"configurable": {"thread_id": ...}}`` (see ``collab.graph.invoke``).
    """
    done: GraphRun = invoke(
        graph, dict(inputs), config, run=invocation_run(run, budget, slm, llm) or active_run()
    )
    return read(done.output)


async def arun_graph(
    graph: Any,
    inputs: Mapping[str, Any],
    config: RunnableConfig | None = None,
    *,
    run: Run | None = None,
    budget: Budget | None = None,
    slm: Model | None = None,
    llm: Model | None = None,
    read: ReadResult = result_from,
) -> PatternResult:
    """Async twin of ``run_graph``."""
    done: GraphRun = await ainvoke(
        graph, dict(inputs), config, run=invocation_run(run, budget, slm, llm) or active_run()
    )
    return read(done.output)
