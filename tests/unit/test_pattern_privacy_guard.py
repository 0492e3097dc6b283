"""patterns.privacy_guard: names, redaction, remote or local answer; every branch, scripted."""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

from collab.patterns.privacy_guard import PrivacyGuardConfig
from langgraph.graph import END, START, StateGraph

from collab import Budget, Run, ScriptedModel
from collab.graph import ledger_of, merge_calls
from collab.patterns import privacy_guard
from collab.types import Message

QUESTION = "Draft a note to Ada Lovelace (ada@example.com, +44 20 7946 0958) about her refund."


def slm_listing(names: str = "Ada Lovelace", answer: str = "a local answer") -> ScriptedModel:
    def reply(messages: list[Message]) -> str:
        return names if "person's name" in messages[-1].content else answer

    return ScriptedModel(reply, name="slm", kind="local")


def llm_saying(reply: str = "Dear <NAME_1>, we will call <PHONE_1>.") -> ScriptedModel:
    return ScriptedModel(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)


def test_the_llm_sees_placeholders_only_and_the_answer_is_restored() -> None:
    slm, llm = slm_listing(), llm_saying()
    result = privacy_guard.run(QUESTION, slm=slm, llm=llm)
    sent = " ".join(m.content for m in llm.calls[0])
    for value in ("Ada Lovelace", "ada@example.com", "7946"):
        assert value not in sent
    assert "<NAME_1> (<EMAIL_1>, <PHONE_1>)" in sent
    assert result.answer == "Dear Ada Lovelace, we will call +44 20 7946 0958."
    assert (result.answered_by, result.escalated) == ("llm", True)
    assert result.details["redactions"] == {"NAME": 1, "EMAIL": 1, "PHONE": 1}
    assert result.details["remote_prompt"] == (
        "Draft a note to <NAME_1> (<EMAIL_1>, <PHONE_1>) about her refund."
    )
    records = result.ledger.records
    assert [(r.node, r.role, r.kind) for r in records] == [
        ("find_names", "detector", "local"),
        ("ask", "answerer", "remote"),
    ]
    assert records[1].redactions == {"NAME": 1, "EMAIL": 1, "PHONE": 1}
    assert "Lovelace" not in result.ledger.model_dump_json()


def test_without_the_slm_names_stay_and_no_local_call_is_made() -> None:
    slm, llm = slm_listing(), llm_saying("Done.")
    config = PrivacyGuardConfig(find_names=False)
    result = privacy_guard.run(QUESTION, slm=slm, llm=llm, config=config)
    assert slm.calls == [] and "Ada Lovelace" in llm.calls[0][-1].content
    assert result.details["redactions"] == {"EMAIL": 1, "PHONE": 1}
    assert [r.node for r in result.ledger.records] == ["ask"]


def test_a_question_with_a_local_type_never_leaves_the_device() -> None:
    slm, llm = slm_listing(names="NONE"), llm_saying()
    config = PrivacyGuardConfig(local_types=("CARD", "IBAN"))
    question = "Why was card 4111 1111 1111 1111 charged twice?"
    result = privacy_guard.run(question, slm=slm, llm=llm, config=config)
    assert llm.calls == [] and result.answer == "a local answer"
    assert (result.answered_by, result.escalated) == ("slm", False)
    assert result.details == {
        "redactions": {"CARD": 1},
        "remote_prompt": None,
        "kept_local_for": ["CARD"],
    }
    assert "4111" in slm.calls[-1][-1].content  # the SLM, on the device, reads it as it is


def test_local_types_not_present_go_to_the_llm() -> None:
    slm, llm = slm_listing(names="NONE"), llm_saying("ok")
    config = PrivacyGuardConfig(local_types=("CARD",))
    result = privacy_guard.run("Email bob@x.org", slm=slm, llm=llm, config=config)
    assert result.answered_by == "llm" and result.details["kept_local_for"] == []


def test_a_degraded_remote_call_is_answered_locally_from_the_original_question() -> None:
    slm, llm = slm_listing(), llm_saying()
    budget = Budget(usd=1e-9, policy="degrade")
    result = privacy_guard.run(QUESTION, slm=slm, llm=llm, budget=budget)
    assert llm.calls == [] and result.degraded and result.answered_by == "slm"
    assert result.answer == "a local answer" and "ada@example.com" in slm.calls[-1][-1].content


def test_arun_matches_run() -> None:
    slm, llm = slm_listing(), llm_saying()
    result = asyncio.run(privacy_guard.arun(QUESTION, slm=slm, llm=llm))
    assert result.answer == "Dear Ada Lovelace, we will call +44 20 7946 0958."


class Outer(TypedDict, total=False):
    question: str
    answer: str
    collab_calls: Annotated[list[dict[str, Any]], merge_calls]
    log: Annotated[list[str], operator.add]


def test_the_guard_works_as_a_subgraph_and_its_calls_reach_the_parent() -> None:
    slm, llm = slm_listing(), llm_saying()
    graph = StateGraph(Outer)
    graph.add_node("guard", privacy_guard.build(slm=slm, llm=llm))
    graph.add_node("after", lambda s: {"log": [s["answer"]]})
    graph.add_edge(START, "guard")
    graph.add_edge("guard", "after")
    graph.add_edge("after", END)
    with Run() as run:
        out = graph.compile().invoke({"question": QUESTION})
    assert out["log"] == ["Dear Ada Lovelace, we will call +44 20 7946 0958."]
    assert ledger_of(out).records == run.ledger.records and len(run.ledger.records) == 2


def test_the_graph_drawn_matches_the_docs_page() -> None:
    drawn = privacy_guard.build(slm=slm_listing(), llm=llm_saying()).get_graph().draw_mermaid()
    page = Path(__file__).resolve().parents[2] / "docs" / "patterns" / "privacy_guard.md"
    assert drawn.strip() in page.read_text(encoding="utf-8")
