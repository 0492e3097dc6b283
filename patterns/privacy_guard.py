"""Privacy guard: personal data is replaced by placeholders before the LLM sees the question.

The SLM lists the person names in the question (optional); deterministic detectors find
emails, phone numbers, card numbers (Luhn-checked), IBANs (mod-97-checked), API keys and IP
addresses (``collab.pii``). A question holding a type listed in ``local_types`` (say, card
numbers) is answered by the SLM and never leaves the device; any other goes to the LLM
through a ``collab.privacy.PrivacyGuard``: the LLM sees ``<EMAIL_1>``, ``<NAME_1>``..., and
its reply is restored on the device. The ledger record of the LLM call says what was
replaced, by type and count, never the values; so do the result's ``details``.

    result = patterns.privacy_guard.run("Write to ada@example.com about her card", slm=slm,
                                        llm=llm)
    result.details["redactions"], result.details["remote_prompt"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.graph import LedgerState, node
from collab.models.base import Model
from collab.pii import Redactor
from collab.privacy import PrivacyGuard, find_names

from .common import CompileOptions, PatternResult, arun_graph, run_graph
from .state_schemas import QuestionInput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["PrivacyGuardConfig", "PrivacyGuardState", "arun", "build", "run"]


class PrivacyGuardConfig(BaseModel):
    """The knobs of the privacy guard."""

    model_config = ConfigDict(frozen=True)

    find_names: bool = True
    """Ask the SLM for the person names in the question (the detectors cannot find names)."""
    local_types: tuple[str, ...] = ()
    """Types ("CARD", "IBAN", "API_KEY", ...) whose presence keeps the question on the SLM."""
    system: str = (
        "Answer the user's request. Placeholders such as <EMAIL_1> or <NAME_1> stand for "
        "private values: keep them exactly as written wherever the value belongs."
    )
    names_max_tokens: int = Field(default=64, gt=0)
    answer_max_tokens: int = Field(default=256, gt=0)


class PrivacyGuardState(LedgerState, total=False):
    """The guard's state: ``question`` in, ``answer`` out.

    ``names`` holds the names found, which are personal data: the state, like the question
    itself, stays on the device (and in its checkpointer, when there is one).
    """

    question: str
    names: list[str]
    redactions: dict[str, int]
    """What the detectors found, by type and count."""
    remote_prompt: str
    """The question as the LLM would see it (placeholders only)."""
    answer: str
    answered_by: str
    escalated: bool
    details: dict[str, Any]


def build(
    *,
    slm: Model,
    llm: Model,
    config: PrivacyGuardConfig | None = None,
    redactor: Redactor | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The guard as a compiled LangGraph graph: find_names -> redact -> ask | answer_locally.

    ``redactor`` replaces the built-in detectors (``collab.pii.Redactor(detectors=...)``).
    ``compile_options`` go to LangGraph's ``compile``; a budget belongs to one invocation.
    """
    config = config or PrivacyGuardConfig()
    base = redactor or Redactor()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run

    def messages(question: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": config.system}, {"role": "user", "content": question}]

    @node(role="detector")
    def find(state: PrivacyGuardState) -> PrivacyGuardState:
        names = find_names(slm, state["question"], max_tokens=config.names_max_tokens)
        return {"names": names}

    def redact(state: PrivacyGuardState) -> PrivacyGuardState:
        done = base.with_names(state.get("names", [])).redact([state["question"]])
        return {"redactions": done.counts, "remote_prompt": done.texts[0]}

    @node(role="answerer")
    def ask(state: PrivacyGuardState) -> PrivacyGuardState:
        guard = metered(PrivacyGuard(llm.wrapped, redactor=base.with_names(state.get("names", []))))
        done = guard.complete(messages(state["question"]), max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "escalated": True,
            "details": _details(state, kept_local=[]),
        }

    @node(role="answerer")
    def answer_locally(state: PrivacyGuardState) -> PrivacyGuardState:
        done = slm.complete(messages(state["question"]), max_tokens=config.answer_max_tokens)
        found = [t for t in config.local_types if t in state["redactions"]]
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "escalated": False,
            "details": _details(state, kept_local=found),
        }

    def start(_: PrivacyGuardState) -> str:
        return "find_names" if config.find_names else "redact"

    def route(state: PrivacyGuardState) -> str:
        local = any(t in state["redactions"] for t in config.local_types)
        return "answer_locally" if local else "ask"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(PrivacyGuardState, input_schema=QuestionInput)
    graph.add_node("find_names", find)
    graph.add_node("redact", redact)
    graph.add_node("ask", ask)
    graph.add_node("answer_locally", answer_locally)
    graph.add_conditional_edges(START, start, ["find_names", "redact"])
    graph.add_edge("find_names", "redact")
    graph.add_conditional_edges("redact", route, ["ask", "answer_locally"])
    graph.add_edge("ask", END)
    graph.add_edge("answer_locally", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: PrivacyGuardConfig | None = None,
    redactor: Redactor | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question with its personal data hidden from the LLM, in its own metered
    run (or in ``run``)."""
    graph = build(slm=slm, llm=llm, config=config, redactor=redactor)
    return run_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: PrivacyGuardConfig | None = None,
    redactor: Redactor | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config, redactor=redactor)
    return await arun_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


def _details(state: PrivacyGuardState, *, kept_local: list[str]) -> dict[str, Any]:
    return {
        "redactions": state["redactions"],
        "remote_prompt": None if kept_local else state["remote_prompt"],
        "kept_local_for": kept_local,
    }
