"""patterns.draft_verify: the SLM drafts, the LLM accepts with one word or corrects."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.draft_verify import DraftVerifyConfig, accepts, correction
from langgraph.graph import END, START, StateGraph

from collab import Budget, Completion, Message, Run, ScriptedModel
from collab.graph import ledger_of
from collab.patterns import draft_verify

DRAFT = "The capital of France is Paris."  # 6 words: 6 tokens for a ScriptedModel


def slm_with(draft: str = DRAFT, *, verify_reply: str = "ACCEPT") -> ScriptedModel:
    """Drafts ``draft``; answers a verify prompt (when a budget degrades the LLM's call to
    it) with ``verify_reply``."""

    def reply(messages: list[Message]) -> str:
        return verify_reply if "Draft answer:" in messages[-1].content else draft

    return ScriptedModel(reply, name="slm", kind="local")


def llm_with(reply: str = "ACCEPT") -> ScriptedModel:
    return ScriptedModel(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)


class PredictingLLM(ScriptedModel):
    """A scripted LLM whose ``complete`` takes ``prediction`` (as ``RemoteModel``'s does)."""

    def __init__(self, reply: str) -> None:
        super().__init__(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)
        self.predictions: list[Any] = []

    def complete(  # type: ignore[override]
        self, prompt: Any, *, max_tokens: int = 256, prediction: Any = None, **kwargs: Any
    ) -> Completion:
        self.predictions.append(prediction)
        return super().complete(prompt, max_tokens=max_tokens, **kwargs)


# -- accept and correct --------------------------------------------------------------------


def test_an_accepted_draft_is_the_answer_and_saves_the_llm_its_tokens() -> None:
    slm, llm = slm_with(), llm_with("ACCEPT")
    result = draft_verify.run("Capital of France?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by, result.escalated) == (DRAFT, "slm", False)
    assert not result.degraded
    details = result.details
    assert (details["verdict"], details["accepted"]) == ("accepted", True)
    assert (details["draft_tokens"], details["verifier_tokens"]) == (6, 1)
    assert details["llm_tokens_saved"] == 5
    assert [(r.node, r.role, r.model) for r in result.ledger.records] == [
        ("draft", "drafter", "slm"),
        ("verify", "verifier", "llm"),
    ]
    assert result.ledger.records[-1].completion_tokens == 1


def test_the_llm_sees_the_question_and_the_draft_and_is_told_how_to_accept() -> None:
    slm, llm = slm_with(), llm_with()
    draft_verify.run("Capital of France?", slm=slm, llm=llm)
    system, user = llm.calls[0]
    assert system.role == "system"
    assert "Capital of France?" in user.content and DRAFT in user.content
    assert "exactly ACCEPT" in user.content


def test_a_wrong_draft_is_replaced_by_the_llms_correction() -> None:
    slm, llm = slm_with("421"), llm_with("391")
    result = draft_verify.run("17 * 23?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by, result.escalated) == ("391", "llm", True)
    assert (result.details["verdict"], result.details["accepted"]) == ("corrected", False)
    assert result.details["draft"] == "421" and result.details["llm_tokens_saved"] == 0
    assert result.cost_usd > 0


def test_a_labelled_rejection_keeps_only_the_corrected_answer() -> None:
    result = draft_verify.run("17 * 23?", slm=slm_with("421"), llm=llm_with("REJECT: 391"))
    assert result.answer == "391" and result.details["verifier_reply"] == "REJECT: 391"


def test_an_accept_with_a_comment_accepts_and_keeps_the_comment() -> None:
    reply = "ACCEPT - looks right."
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm_with(reply))
    assert result.answer == DRAFT and result.details["verdict"] == "accepted"
    assert result.details["verifier_reply"] == reply
    assert result.details["llm_tokens_saved"] == 6 - 4


def test_an_accept_longer_than_the_draft_saves_negative_tokens() -> None:
    result = draft_verify.run("2 + 2?", slm=slm_with("4"), llm=llm_with("ACCEPT, that is right"))
    assert result.details["accepted"] and result.details["llm_tokens_saved"] == 1 - 4


def test_a_reply_that_repeats_the_draft_accepts_it_and_saves_nothing() -> None:
    result = draft_verify.run(
        "Capital?", slm=slm_with(), llm=llm_with("the capital of France is Paris")
    )
    assert (result.answer, result.answered_by) == (DRAFT, "slm")
    assert result.details["verdict"] == "accepted" and result.details["llm_tokens_saved"] == 0


def test_an_empty_reply_leaves_the_draft_unverified() -> None:
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm_with("   "))
    assert (result.answer, result.answered_by) == (DRAFT, "slm")
    assert (result.details["verdict"], result.details["accepted"]) == ("unverified", False)
    assert not result.degraded


@pytest.mark.parametrize(
    "reply",
    [
        "ACCEPT",
        "accept",
        "Accept.",
        " **ACCEPT** ",
        '"ACCEPT"',
        "`accepted`",
        "ACCEPTED!",
        "ACCEPT\nThe draft is correct.",
        "ACCEPT: correct",
        "The draft is correct. ACCEPT",
    ],
)
def test_replies_that_accept(reply: str) -> None:
    assert accepts(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "391",
        "Accept the offer.",  # a correction that starts with the word, not the verdict
        "ACCEPTABLE risk",
        "The answer is 391.",
        "",
        "REJECT: 391",
        "I would not accept that: 391",
    ],
)
def test_replies_that_do_not_accept(reply: str) -> None:
    assert not accepts(reply)


@pytest.mark.parametrize(
    ("reply", "corrected"),
    [
        ("391", "391"),
        ("REJECT: 391", "391"),
        ("REJECT\n391", "391"),
        ("Corrected answer: 391", "391"),
        ("correction: 391", "391"),
        ("REJECT. Answer: 391", "391"),
        ("Answering machines record calls.", "Answering machines record calls."),
        ("REJECT", ""),
    ],
)
def test_corrections_lose_their_labels(reply: str, corrected: str) -> None:
    assert correction(reply) == corrected


def test_a_bare_reject_leaves_the_draft_unverified() -> None:
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm_with("REJECT"))
    assert result.answer == DRAFT and result.details["verdict"] == "unverified"


# -- predicted outputs ---------------------------------------------------------------------


def test_the_draft_goes_as_a_prediction_when_asked_and_the_llm_takes_one() -> None:
    llm = PredictingLLM("ACCEPT")
    config = DraftVerifyConfig(predict=True)
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm, config=config)
    assert llm.predictions == [DRAFT]
    assert result.details["predicted"] is True


def test_no_prediction_by_default() -> None:
    llm = PredictingLLM("ACCEPT")
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm)
    assert llm.predictions == [None] and result.details["predicted"] is False


def test_predict_is_a_no_op_for_a_model_without_predicted_outputs() -> None:
    llm = llm_with("ACCEPT")  # ScriptedModel.complete has no prediction keyword
    config = DraftVerifyConfig(predict=True)
    result = draft_verify.run("Capital?", slm=slm_with(), llm=llm, config=config)
    assert result.details["accepted"] and result.details["predicted"] is False


def test_an_empty_draft_is_not_sent_as_a_prediction() -> None:
    llm = PredictingLLM("Paris")
    config = DraftVerifyConfig(predict=True)
    result = draft_verify.run("Capital?", slm=slm_with(""), llm=llm, config=config)
    assert llm.predictions == [None] and result.answer == "Paris"


# -- budgets, graphs, async, streaming -----------------------------------------------------


def test_an_exhausted_budget_degrades_verification_and_the_draft_is_the_answer() -> None:
    # The SLM, handed the verify prompt, "accepts" its own draft: that is no verdict.
    slm, llm = slm_with("421", verify_reply="ACCEPT"), llm_with("391")
    result = draft_verify.run(
        "17 * 23?", slm=slm, llm=llm, budget=Budget(usd=0.0, policy="degrade")
    )
    assert result.degraded and llm.calls == []
    assert (result.answer, result.answered_by, result.escalated) == ("421", "slm", False)
    assert (result.details["verdict"], result.details["accepted"]) == ("unverified", False)
    assert result.details["llm_tokens_saved"] == 0
    record = result.ledger.records[-1]
    assert (record.node, record.outcome, record.original_model) == ("verify", "degraded", "llm")


def test_a_degraded_correction_is_not_taken_either() -> None:
    slm, llm = slm_with("421", verify_reply="400"), llm_with("391")
    result = draft_verify.run(
        "17 * 23?", slm=slm, llm=llm, budget=Budget(usd=0.0, policy="degrade")
    )
    assert result.answer == "421" and result.details["verdict"] == "unverified"


def test_a_budget_belongs_to_the_invocation_s_run_and_build_takes_compile_options() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    slm, llm = slm_with("421"), llm_with("391")
    saver = InMemorySaver()
    graph = draft_verify.build(slm=slm, llm=llm, checkpointer=saver)
    assert graph.checkpointer is saver
    config = {"configurable": {"thread_id": "t1"}}
    with Run(budget=Budget(usd=0.0, policy="degrade"), local_model=slm):
        out = graph.invoke({"question": "17 * 23?"}, config)
    assert out["answer"] == "421" and out["details"]["verdict"] == "unverified"
    assert [r.outcome for r in ledger_of(out).records] == ["ok", "degraded"]


class Outer(TypedDict, total=False):
    question: str
    answer: str
    collab_calls: Annotated[list[dict[str, Any]], operator.add]
    log: Annotated[list[str], operator.add]


def test_works_as_a_subgraph_of_a_user_graph() -> None:
    slm, llm = slm_with("421"), llm_with("391")

    def polish(state: Outer) -> dict[str, Any]:
        return {"answer": state["answer"] + "!", "log": ["polished"]}

    builder = StateGraph(Outer)
    builder.add_node("check", draft_verify.build(slm=slm, llm=llm))
    builder.add_node("polish", polish)
    builder.add_edge(START, "check")
    builder.add_edge("check", "polish")
    builder.add_edge("polish", END)
    with Run() as run:
        out = builder.compile().invoke({"question": "17 * 23?"})
    assert out["answer"] == "391!" and out["log"] == ["polished"]
    assert [(r.node, r.model) for r in ledger_of(out).records] == [
        ("draft", "slm"),
        ("verify", "llm"),
    ]
    assert len(run.ledger) == 2


def test_a_second_pass_in_a_user_graph_reads_its_own_verify_call() -> None:
    # The same pattern twice in one graph: the first pass's verify call is made, the
    # second's is degraded. Each verdict must come from its own pass's record.
    slm, llm = slm_with("421", verify_reply="ACCEPT"), llm_with("391")
    pattern = draft_verify.build(slm=slm, llm=llm)

    def note(state: Outer) -> dict[str, Any]:
        return {"log": [state["answer"]]}

    builder = StateGraph(Outer)
    builder.add_node("first", pattern)
    builder.add_node("note", note)
    builder.add_node("second", pattern)
    builder.add_edge(START, "first")
    builder.add_edge("first", "note")
    builder.add_edge("note", "second")
    builder.add_edge("second", END)
    # A verify call reserves its prompt (~38 tokens) + 256 and uses ~39: one fits, not two.
    budget = Budget(remote_tokens=300, policy="degrade")
    with Run(budget=budget, local_model=slm) as run:
        out = builder.compile().invoke({"question": "17 * 23?"})
    assert [(r.node, r.outcome) for r in run.ledger.records] == [
        ("draft", "ok"),
        ("verify", "ok"),
        ("draft", "ok"),
        ("verify", "degraded"),
    ]
    assert out["log"] == ["391"]  # the first pass took the LLM's correction
    assert out["answer"] == "421"  # the second pass's verify was degraded: its draft stays


async def test_async_run_gives_the_same_result() -> None:
    result = await draft_verify.arun("17 * 23?", slm=slm_with("421"), llm=llm_with("391"))
    assert (result.answer, result.details["verdict"]) == ("391", "corrected")
    assert [r.node for r in result.ledger.records] == ["draft", "verify"]


def test_streaming_updates_shows_each_step_with_its_calls() -> None:
    graph = draft_verify.build(slm=slm_with(), llm=llm_with("ACCEPT"))
    with Run():
        updates = list(graph.stream({"question": "Capital?"}, stream_mode="updates"))
    assert [next(iter(u)) for u in updates] == ["draft", "verify", "accept"]
    assert updates[0]["draft"]["draft"] == DRAFT
    assert updates[1]["verify"]["reply"] == "ACCEPT"
    assert [c["node"] for c in updates[1]["verify"]["collab_calls"]] == ["verify"]
    assert updates[2]["accept"]["answer"] == DRAFT


async def test_async_streaming_updates() -> None:
    graph = draft_verify.build(slm=slm_with("421"), llm=llm_with("391"))
    async with Run():
        updates = [u async for u in graph.astream({"question": "17?"}, stream_mode="updates")]
    assert [next(iter(u)) for u in updates] == ["draft", "verify", "correct"]
