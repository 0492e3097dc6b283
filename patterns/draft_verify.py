"""Draft-verify: the SLM drafts, the LLM accepts the draft with one word or corrects it.

The LLM reads the question and the SLM's draft and replies ``ACCEPT`` when the draft is right
(a token or two instead of a whole answer), else the corrected answer. What the draft saved
is measured: its length in the LLM's tokens minus what the LLM wrote, when it accepted. This
is speculative decoding (Leviathan et al., 2023) moved from tokens to whole answers, with the
big model checking the little one's text as in big-little verification; with
``predict=True`` the draft also goes to the LLM as an OpenAI "predicted output", which
speeds up corrections that reuse most of the draft.

How a reply is read (``accepts``): ``ACCEPT`` or ``accepted`` alone, in any case, with
quotes, markdown or punctuation around it, accepts. So does a reply that starts or ends with
the upper-case word ``ACCEPT``: the text beside it is the LLM's comment ("ACCEPT - the draft
is right"), not an answer, and it is kept in ``details["verifier_reply"]``. A sentence that
merely starts with "Accept" ("Accept the offer.") is a correction. A reply that repeats the
draft (the same words, ignoring case and punctuation) accepts too, saving nothing: the
answer is the draft either way, and the verdict should say so (the graph checks this; it
needs the draft, which ``accepts`` does not see). A correction loses a
leading ``REJECT`` or "Corrected answer:" label. An empty reply, or one answered by the SLM
because the budget degraded the LLM's call, verifies nothing: the draft is the answer.

    graph = patterns.draft_verify.build(slm=slm, llm=llm)
    result = patterns.draft_verify.run("What is 17 * 23?", slm=slm, llm=llm)
    result.details["accepted"], result.details["llm_tokens_saved"]
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.limits import Budget
from collab.budget.metered import metered
from collab.budget.run import Run
from collab.evaluation.metrics import normalize
from collab.graph import LedgerState, ledger_of, node
from collab.models.base import Model

from .common import CompileOptions, PatternResult, arun_graph, run_graph
from .state_schemas import AnswerOutput, QuestionInput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = [
    "DraftVerifyConfig",
    "DraftVerifyState",
    "Verification",
    "accepts",
    "arun",
    "build",
    "correction",
    "run",
]

Verification = Literal["accepted", "corrected", "unverified"]
"""What became of the draft: kept on the LLM's word, replaced by its correction, or kept
without a verdict (the verify call was degraded to the SLM, or the reply was empty)."""

VERIFY_PROMPT = (
    "Question: {question}\n\nDraft answer: {draft}\n\n"
    "If the draft answer is correct, reply with exactly ACCEPT and nothing else. "
    "Otherwise reply with only the correct answer, with no preamble."
)


class DraftVerifyConfig(BaseModel):
    """The knobs of draft-verify."""

    model_config = ConfigDict(frozen=True)

    system: str = "Answer the question correctly and briefly."
    """The SLM's system prompt for the draft."""
    draft_max_tokens: int = Field(default=128, gt=0)
    verify_system: str = "You check answers that a smaller model wrote."
    verify_prompt: str = VERIFY_PROMPT
    """The LLM's instructions, with ``{question}`` and ``{draft}``."""
    verify_max_tokens: int = Field(default=256, gt=0)
    """Room for a correction. An ACCEPT costs a token or two whatever this is; it bounds a
    correction, and what the budget reserves for the verify call."""
    predict: bool = False
    """Send the draft as a predicted output (OpenAI's ``prediction``) when the LLM's
    ``complete`` takes one; ``RemoteModel`` sends it only where LiteLLM says the provider
    supports it. Off by default: providers bill the prediction tokens the reply does not use
    as output tokens, so an ACCEPT then costs the draft's length and saves nothing
    (``llm_tokens_saved`` shows it). Worth it for long drafts whose corrections are edits."""


class DraftVerifyOutput(AnswerOutput, total=False):
    """``AnswerOutput``, with the SLM's draft and the LLM's reply to it."""

    draft: str
    reply: str


class DraftVerifyState(LedgerState, total=False):
    """Draft-verify's state: ``question`` in, ``answer`` out."""

    question: str
    draft: str
    drafter: str
    reply: str
    verifier: str
    draft_tokens: int
    reply_tokens: int
    predicted: bool
    answer: str
    answered_by: str
    escalated: bool
    details: dict[str, Any]


def build(
    *,
    slm: Model,
    llm: Model,
    config: DraftVerifyConfig | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """Draft-verify as a compiled LangGraph graph: draft -> verify -> accept | correct |
    keep_draft.

    ``compile_options`` go to LangGraph's ``compile`` (``checkpointer=``, ``name=``, ...); a
    budget belongs to one invocation (``run(budget=)`` or the enclosing ``collab.Run``).
    """
    config = config or DraftVerifyConfig()
    can_predict = config.predict and _takes_prediction(llm)
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run

    @node(role="drafter")
    def draft(state: DraftVerifyState) -> DraftVerifyState:
        messages = [
            {"role": "system", "content": config.system},
            {"role": "user", "content": state["question"]},
        ]
        done = slm.complete(messages, max_tokens=config.draft_max_tokens)
        return {"draft": done.text.strip(), "drafter": done.model}

    @node(role="verifier")
    def verify(state: DraftVerifyState) -> DraftVerifyState:
        text = config.verify_prompt.format(question=state["question"], draft=state["draft"])
        messages = [
            {"role": "system", "content": config.verify_system},
            {"role": "user", "content": text},
        ]
        predicted = can_predict and bool(state["draft"])
        extra = {"prediction": state["draft"]} if predicted else {}
        done = llm.complete(messages, max_tokens=config.verify_max_tokens, **extra)
        return {
            "reply": done.text.strip(),
            "verifier": done.model,
            "draft_tokens": llm.count_tokens(state["draft"]),
            "reply_tokens": done.usage.completion_tokens,
            "predicted": predicted,
        }

    def accept(state: DraftVerifyState) -> DraftVerifyState:
        saved = state["draft_tokens"] - state["reply_tokens"]
        return _final(state, "accepted", state["draft"], state["drafter"], saved)

    def correct(state: DraftVerifyState) -> DraftVerifyState:
        return _final(state, "corrected", correction(state["reply"]), state["verifier"], 0)

    def keep_draft(state: DraftVerifyState) -> DraftVerifyState:
        return _final(state, "unverified", state["draft"], state["drafter"], 0)

    def decide(state: DraftVerifyState) -> str:
        if _verify_degraded(state):
            return "keep_draft"
        if accepts(state["reply"]) or _restates(state["reply"], state["draft"]):
            return "accept"
        return "correct" if correction(state["reply"]) else "keep_draft"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(
        DraftVerifyState, input_schema=QuestionInput, output_schema=DraftVerifyOutput
    )
    graph.add_node("draft", draft)
    graph.add_node("verify", verify)
    graph.add_node("accept", accept)
    graph.add_node("correct", correct)
    graph.add_node("keep_draft", keep_draft)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", decide, ["accept", "correct", "keep_draft"])
    for end in ("accept", "correct", "keep_draft"):
        graph.add_edge(end, END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: DraftVerifyConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question in its own metered run (or in ``run``).

    ``escalated`` is True when the LLM's correction is the answer. ``details``: ``verdict``
    (a ``Verification``), ``accepted``, ``draft``, ``verifier_reply``, ``predicted``
    (whether the draft went as a prediction), ``draft_tokens`` (in the LLM's tokens),
    ``verifier_tokens`` (what the LLM wrote) and ``llm_tokens_saved``: on an accept,
    ``draft_tokens - verifier_tokens`` (negative when the ACCEPT was longer than the draft,
    or billed the prediction), else 0.
    """
    graph = build(slm=slm, llm=llm, config=config)
    return run_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    config: DraftVerifyConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config)
    return await arun_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


_EDGES = " \t\r\n*_`'\"“”‘’.,;:!?-()[]"
_KEYWORD_FIRST = re.compile(r"^[\W_]*ACCEPT(?:ED)?\b")
_KEYWORD_LAST = re.compile(r"\bACCEPT(?:ED)?[\W_]*$")
_REJECT = re.compile(r"^[\s*_`]*REJECT(?:ED)?\b[\s*_`:.\-–—]*")
_LABEL = re.compile(r"^\s*(?:corrected answer|correct answer|correction|answer)\s*:\s*", re.I)


def accepts(reply: str) -> bool:
    """Whether the verifier's reply accepts the draft (see the module's docstring)."""
    if reply.strip(_EDGES).casefold() in {"accept", "accepted"}:
        return True
    return bool(_KEYWORD_FIRST.match(reply) or _KEYWORD_LAST.search(reply))


def correction(reply: str) -> str:
    """The corrected answer in a reply that does not accept: without a REJECT or
    "Corrected answer:" label ("" when nothing is left)."""
    return _LABEL.sub("", _REJECT.sub("", reply.strip()), count=1).strip()


def _final(
    state: DraftVerifyState, verdict: Verification, answer: str, by: str, saved: int
) -> DraftVerifyState:
    return {
        "answer": answer,
        "answered_by": by,
        "escalated": verdict == "corrected",
        "details": {
            "verdict": verdict,
            "accepted": verdict == "accepted",
            "draft": state["draft"],
            "verifier_reply": state["reply"],
            "predicted": state["predicted"],
            "draft_tokens": state["draft_tokens"],
            "verifier_tokens": state["reply_tokens"],
            "llm_tokens_saved": saved,
        },
    }


def _restates(reply: str, draft: str) -> bool:
    """Whether the reply is the draft again (same words): an accept that saved nothing."""
    return bool(draft) and normalize(correction(reply)) == normalize(draft)


def _verify_degraded(state: DraftVerifyState) -> bool:
    """Whether a budget policy gave the verify call to another model (the ledger says
    "degraded"); the last verify record is this invocation's, even inside a parent's loop."""
    records = [r for r in ledger_of(state).records if r.node == "verify"]
    return bool(records) and records[-1].outcome == "degraded"


def _takes_prediction(model: Model) -> bool:
    try:
        return "prediction" in inspect.signature(model.complete).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
