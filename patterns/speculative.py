"""Speculative edit: the SLM drafts the edited document, the LLM edits with it as a prediction.

An edit returns a document that is mostly the original. A provider with predicted outputs
(OpenAI's ``prediction``, through LiteLLM) checks a whole expected reply at once and emits
the stretches that match it quickly; a speculative ``LocalModel`` uses it as a draft source.
The SLM's draft is such a prediction, cheap because it runs locally, and it is only made when
the LLM can use it: otherwise the graph goes straight to the LLM, and speculation costs
nothing. The LLM's reply is the answer either way: the draft only ever makes it faster.

    graph = patterns.speculative.build(slm=slm, llm=llm)
    result = patterns.speculative.run(document, "Change the port to 9090.", slm=slm, llm=llm)
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Unpack

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.graph import LedgerState, node
from collab.models.base import Model
from collab.speculative.predicted import takes_prediction

from .common import CompileOptions, PatternResult, arun_graph, run_graph
from .state_schemas import AnswerOutput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["EditConfig", "EditState", "arun", "build", "run"]


class EditConfig(BaseModel):
    """The knobs of a speculative edit."""

    model_config = ConfigDict(frozen=True)

    system: str = "You edit documents. You reply with the whole edited document, nothing else."
    prompt: str = (
        "Rewrite the document below. {instruction} Keep everything else exactly the same.\n\n"
        "```\n{document}\n```"
    )
    """The user message of both models, with ``{document}`` and ``{instruction}``."""
    predict: bool = True
    """Draft with the SLM and send the draft as the LLM's predicted output, when the LLM can
    use one (``takes_prediction``). False: the LLM edits alone."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Room for the edited document; default: the document's length in tokens, doubled, plus
    64 (for the LLM, and for the SLM in its own tokens)."""


class EditInput(TypedDict):
    """The document to edit and the instruction (``question``) to edit it by."""

    question: str
    document: str


class EditState(LedgerState, total=False):
    """A speculative edit's state: ``document`` and ``question`` (the instruction) in,
    ``answer`` (the edited document) out."""

    question: str
    document: str
    draft: str
    drafter: str
    draft_speculation: dict[str, Any] | None
    """The SLM's speculative decoding counters for the draft (``SpeculationStats``), if any."""
    predicted: bool
    answer: str
    answered_by: str
    escalated: bool
    details: dict[str, Any]


def build(
    *,
    slm: Model,
    llm: Model,
    config: EditConfig | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """The speculative edit as a compiled LangGraph graph: [draft ->] edit.

    ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``, ``name=``, ...); a
    budget belongs to one invocation (``run(budget=)`` or the enclosing ``collab.Run``).
    """
    config = config or EditConfig()
    predicting = config.predict and takes_prediction(llm)
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run

    @node(role="drafter")
    def draft(state: EditState) -> EditState:
        done = slm.complete(
            _messages(config, state),
            max_tokens=_room(config, slm, state["document"]),
        )
        stats = getattr(done, "speculation", None)  # a speculative LocalModel's counters
        return {
            "draft": unfence(done.text, state["document"]),
            "drafter": done.model,
            "draft_speculation": stats.model_dump() if stats is not None else None,
        }

    @node(role="editor")
    def edit(state: EditState) -> EditState:
        prediction = state.get("draft", "")
        extra: dict[str, Any] = {"prediction": prediction} if prediction else {}
        done = llm.complete(
            _messages(config, state),
            max_tokens=_room(config, llm, state["document"]),
            **extra,
        )
        answer = unfence(done.text, state["document"])
        return {
            "answer": answer,
            "answered_by": done.model,
            "escalated": True,
            "predicted": bool(prediction),
            "details": {
                "predicted": bool(prediction),
                "draft": prediction,
                "draft_similarity": similarity(prediction, answer) if prediction else None,
                "draft_speculation": state.get("draft_speculation"),
                "changed": answer.strip() != state["document"].strip(),
            },
        }

    def start(state: EditState) -> str:
        return "draft" if predicting else "edit"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(EditState, input_schema=EditInput, output_schema=AnswerOutput)
    graph.add_node("draft", draft)
    graph.add_node("edit", edit)
    graph.add_conditional_edges(START, start, ["draft", "edit"])
    graph.add_edge("draft", "edit")
    graph.add_edge("edit", END)
    return graph.compile(**compile_options)


def run(
    document: str,
    instruction: str,
    *,
    slm: Model,
    llm: Model,
    config: EditConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Edit one document in its own metered run (or in ``run``)."""
    graph = build(slm=slm, llm=llm, config=config)
    return run_graph(
        graph,
        {"question": instruction, "document": document},
        run=run,
        budget=budget,
        slm=slm,
        llm=llm,
    )


async def arun(
    document: str,
    instruction: str,
    *,
    slm: Model,
    llm: Model,
    config: EditConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config)
    return await arun_graph(
        graph,
        {"question": instruction, "document": document},
        run=run,
        budget=budget,
        slm=slm,
        llm=llm,
    )


def similarity(draft: str, answer: str) -> float:
    """How much of the answer the draft predicted: the matching characters' share, 0 to 1."""
    return difflib.SequenceMatcher(None, draft, answer, autojunk=False).ratio()


def unfence(text: str, document: str) -> str:
    """``text`` without a Markdown code fence around all of it, unless the document had one."""
    stripped = text.strip()
    if stripped.startswith("```") and not document.lstrip().startswith("```"):
        lines = stripped.split("\n")
        if len(lines) >= 2 and lines[-1].strip() == "```":
            return "\n".join(lines[1:-1])
    return stripped


def _room(config: EditConfig, model: Model, document: str) -> int:
    if config.max_tokens is not None:
        return config.max_tokens
    return 2 * model.count_tokens(document) + 64


def _messages(config: EditConfig, state: EditState) -> list[dict[str, str]]:
    text = config.prompt.format(document=state["document"], instruction=state["question"])
    return [{"role": "system", "content": config.system}, {"role": "user", "content": text}]
