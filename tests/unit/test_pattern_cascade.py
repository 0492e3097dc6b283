"""patterns.cascade: keep confident drafts, escalate doubtful ones, calibrate the threshold."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.cascade import CascadeConfig
from langgraph.graph import END, START, StateGraph

from collab import Budget, ScriptedModel
from collab.graph import ledger_of, merge_calls
from collab.patterns import cascade


def slm_with(draft: str, p_yes: float, *, name: str = "slm") -> ScriptedModel:
    return ScriptedModel(
        lambda _: draft, name=name, kind="local", scores=lambda _p, _o: [p_yes, 1 - p_yes]
    )


def llm_with(answer: str = "391") -> ScriptedModel:
    return ScriptedModel(lambda _: answer, name="llm", kind="remote", cost_per_token_usd=0.001)


def test_confident_draft_is_kept_without_calling_the_llm() -> None:
    slm, llm = slm_with("Paris", 0.9), llm_with()
    result = cascade.run("Capital of France?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by, result.escalated) == ("Paris", "slm", False)
    assert llm.calls == []
    assert result.verdicts[0].passed and result.verdicts[0].probability == pytest.approx(0.9)
    assert [r.node for r in result.ledger.records] == ["draft", "judge"]
    assert result.cost_usd == 0


def test_doubtful_draft_escalates_with_the_draft_as_a_hint() -> None:
    slm, llm = slm_with("421", 0.2), llm_with("391")
    result = cascade.run("17 * 23?", slm=slm, llm=llm, config=CascadeConfig(threshold=0.5))
    assert (result.answer, result.answered_by, result.escalated) == ("391", "llm", True)
    asked = llm.calls[0][-1].content
    assert "17 * 23?" in asked and "'421'" in asked
    assert result.details["confidence"] == pytest.approx(0.2)
    assert result.cost_usd > 0


def test_no_hint_sends_the_bare_question() -> None:
    slm, llm = slm_with("421", 0.2), llm_with("391")
    cascade.run("17 * 23?", slm=slm, llm=llm, config=CascadeConfig(hint=False))
    assert llm.calls[0][-1].content == "17 * 23?"


def test_exhausted_budget_degrades_to_the_slm_and_says_so() -> None:
    slm, llm = slm_with("421", 0.2), llm_with("391")
    budget = Budget(usd=0.0, policy="degrade")
    result = cascade.run("17 * 23?", slm=slm, llm=llm, budget=budget)
    assert result.degraded and result.answered_by == "slm"
    assert llm.calls == []


def test_judge_can_be_a_function() -> None:
    slm, llm = slm_with("Paris", 0.0), llm_with()
    seen: list[tuple[str, str]] = []

    def judge(question: str, draft: str, _prompt: str) -> float:
        seen.append((question, draft))
        return 0.99

    result = cascade.run("Capital?", slm=slm, llm=llm, judge=judge)
    assert result.answer == "Paris" and seen == [("Capital?", "Paris")]


def test_works_as_a_subgraph_of_a_user_graph() -> None:
    slm, llm = slm_with("421", 0.1), llm_with("391")

    class Outer(TypedDict, total=False):
        question: str
        answer: str
        collab_calls: Annotated[list[dict[str, Any]], merge_calls]
        log: Annotated[list[str], operator.add]

    def polish(state: Outer) -> dict[str, Any]:
        return {"answer": state["answer"] + "!", "log": ["polished"]}

    builder = StateGraph(Outer)
    builder.add_node("cascade", cascade.build(slm=slm, llm=llm))
    builder.add_node("polish", polish)
    builder.add_node("again", cascade.build(slm=slm, llm=llm))
    builder.add_edge(START, "cascade")
    builder.add_edge("cascade", "again")
    builder.add_edge("again", "polish")
    builder.add_edge("polish", END)
    from collab import Run

    with Run() as run:
        out = builder.compile().invoke({"question": "17 * 23?"})
    assert out["answer"] == "391!"
    # two passes, each counted once: the second subgraph hands back the first one's records too
    assert [r.model for r in ledger_of(out).records] == ["slm", "slm", "llm"] * 2
    assert ledger_of(out).records == run.ledger.records


async def test_async_run_gives_the_same_result() -> None:
    slm, llm = slm_with("421", 0.2), llm_with("391")
    result = await cascade.arun("17 * 23?", slm=slm, llm=llm)
    assert (result.answer, result.escalated) == ("391", True)


def test_calibrate_picks_the_cheapest_threshold_that_keeps_the_llm_accuracy() -> None:
    # Drafts: right when the SLM is confident (0.9, 0.8), wrong when it is not (0.3, 0.1).
    drafts = {"q1": ("a1", 0.9), "q2": ("a2", 0.8), "q3": ("wrong", 0.3), "q4": ("wrong", 0.1)}

    def reply(messages: list[Any]) -> str:
        return drafts[messages[-1].content][0]

    def scores(prompt: str, _options: list[str]) -> list[float]:
        q = next(k for k in drafts if f"<question>\n{k}\n</question>" in prompt)
        return [drafts[q][1], 1 - drafts[q][1]]

    slm = ScriptedModel(reply, name="slm", kind="local", scores=scores)
    llm = ScriptedModel(
        lambda m: "a" + m[-1].content.split("\n")[0][1:],
        name="llm",
        kind="remote",
        cost_per_token_usd=0.001,
    )
    examples = [("q1", "a1"), ("q2", "a2"), ("q3", "a3"), ("q4", "a4")]
    calibration = cascade.calibrate(examples, slm=slm, llm=llm, metric="exact", keep=1.0)
    assert calibration.llm_only_accuracy == 1.0
    assert calibration.slm_only_accuracy == 0.5
    assert calibration.met and calibration.expected_accuracy == 1.0
    assert 0.3 < calibration.threshold <= 0.8  # escalates q3 and q4 only
    assert calibration.escalation_rate == 0.5
    assert 0 < calibration.expected_cost_usd < calibration.llm_only_cost_usd
    config = CascadeConfig(threshold=calibration.threshold)
    answers = [cascade.run(q, slm=slm, llm=llm, config=config).answer for q, _ in examples]
    assert answers == ["a1", "a2", "a3", "a4"]
