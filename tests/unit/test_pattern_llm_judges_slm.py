"""patterns.llm_judges_slm: the SLM answers, the LLM grades it 1 to 5 as structured output."""

from __future__ import annotations

import json
import operator
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.common import verdicts_in
from collab.patterns.llm_judges_slm import GradingConfig, evaluate_slm
from langgraph.graph import END, START, StateGraph

from collab import Budget, Run, ScriptedModel
from collab.graph import ledger_of
from collab.patterns import llm_judges_slm


def grade(score: int, reason: str = "fine") -> str:
    return json.dumps({"score": score, "reason": reason})


def slm_with(answer: str = "391") -> ScriptedModel:
    return ScriptedModel(lambda _: answer, name="slm", kind="local")


def llm_with(*replies: str) -> ScriptedModel:
    return ScriptedModel(list(replies), name="llm", kind="remote", cost_per_token_usd=0.001)


def test_a_good_grade_passes() -> None:
    slm, llm = slm_with("391"), llm_with(grade(5, "correct"))
    result = llm_judges_slm.run("What is 17 * 23?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by) == ("391", "slm")
    (verdict,) = result.verdicts
    assert (verdict.judge, verdict.passed, verdict.probability) == ("grade", True, 1.0)
    assert verdict.threshold == 0.75 and verdict.reason == "5/5: correct"
    assert result.details == {"score": 5, "graded_by": "llm", "grade_retries": 0}
    assert [(r.node, r.role, r.model) for r in result.ledger.records] == [
        ("answer", "answerer", "slm"),
        ("grade", "judge", "llm"),
    ]
    assert result.cost_usd > 0


def test_a_low_grade_fails_and_is_rescaled_to_a_probability() -> None:
    result = llm_judges_slm.run("Q?", slm=slm_with(), llm=llm_with(grade(2, "wrong")))
    (verdict,) = result.verdicts
    assert not verdict.passed and verdict.probability == 0.25
    assert result.details["score"] == 2


def test_the_grader_sees_question_answer_and_reference() -> None:
    llm = llm_with(grade(4), grade(4))
    llm_judges_slm.run("What is 17 * 23?", reference="391", slm=slm_with("391"), llm=llm)
    system, user = llm.calls[0]
    assert system.role == "system" and "JSON" in system.content
    assert "Question: What is 17 * 23?" in user.content
    assert "Reference answer (correct): 391" in user.content
    assert "Answer to grade: 391" in user.content
    llm_judges_slm.run("Q?", slm=slm_with(), llm=llm)
    assert "Reference" not in llm.calls[1][-1].content


def test_pass_score_sets_the_threshold() -> None:
    config = GradingConfig(pass_score=3)
    result = llm_judges_slm.run("Q?", slm=slm_with(), llm=llm_with(grade(3)), config=config)
    assert result.verdicts[0].passed and result.verdicts[0].threshold == 0.5


def test_invalid_json_is_retried_once_with_the_error() -> None:
    llm = llm_with("Score: five stars!", grade(4, "ok"))
    result = llm_judges_slm.run("Q?", slm=slm_with(), llm=llm)
    assert result.verdicts[0].passed and result.details["grade_retries"] == 1
    retry = llm.calls[1]
    assert [m.role for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2].content == "Score: five stars!"
    assert "not valid JSON" in retry[3].content
    outcomes = [r.outcome for r in result.ledger.records if r.model == "llm"]
    assert outcomes == ["error", "ok"]


def test_a_grade_out_of_range_is_invalid_too() -> None:
    llm = llm_with(grade(7), grade(1))
    result = llm_judges_slm.run("Q?", slm=slm_with(), llm=llm)
    assert "does not match Grade" in llm.calls[1][-1].content
    assert result.details["score"] == 1


def test_two_invalid_grades_give_a_failed_verdict_not_an_error() -> None:
    llm = llm_with("not json", '{"score": 3')
    result = llm_judges_slm.run("Q?", slm=slm_with(), llm=llm)
    (verdict,) = result.verdicts
    assert not verdict.passed and verdict.probability == 0.0
    assert "no valid grade in 2 tries" in (verdict.reason or "")
    assert "not valid JSON" in (verdict.reason or "")
    assert result.details == {"score": None, "graded_by": None, "grade_retries": 1}


def test_an_exhausted_budget_degrades_the_grading_to_the_slm_and_says_so() -> None:
    slm = ScriptedModel(["391", grade(3, "self-graded")], name="slm", kind="local")
    llm = llm_with(grade(5))
    result = llm_judges_slm.run("Q?", slm=slm, llm=llm, budget=Budget(usd=0.0, policy="degrade"))
    assert result.degraded and llm.calls == []
    assert result.details["graded_by"] == "slm" and result.details["score"] == 3
    assert result.ledger.records[-1].outcome == "degraded"


def test_works_as_a_subgraph_of_a_user_graph() -> None:
    class Outer(TypedDict, total=False):
        question: str
        reference: str
        answer: str
        verdicts: list[Any]
        collab_calls: Annotated[list[dict[str, Any]], operator.add]

    graded = llm_judges_slm.build(slm=slm_with("391"), llm=llm_with(grade(5)))
    builder = StateGraph(Outer)
    builder.add_node("graded", graded)
    builder.add_edge(START, "graded")
    builder.add_edge("graded", END)
    with Run() as run:
        out = builder.compile().invoke({"question": "17 * 23?", "reference": "391"})
    assert out["answer"] == "391" and out["verdicts"][0]["passed"] is True  # state: plain dicts
    assert verdicts_in(out)[0].passed
    assert [r.role for r in ledger_of(out).records] == ["answerer", "judge"]
    assert len(run.ledger) == 2


async def test_async_run_gives_the_same_result() -> None:
    result = await llm_judges_slm.arun("Q?", slm=slm_with(), llm=llm_with("bad", grade(5)))
    assert result.details == {"score": 5, "graded_by": "llm", "grade_retries": 1}


def test_streams_its_steps() -> None:
    graph = llm_judges_slm.build(slm=slm_with("391"), llm=llm_with(grade(4)))
    with Run():
        steps = list(graph.stream({"question": "Q?"}, stream_mode="updates"))
    assert [next(iter(step)) for step in steps] == ["answer", "grade"]
    assert steps[0]["answer"]["answer"] == "391"
    assert steps[1]["grade"]["details"]["score"] == 4


def test_evaluate_slm_gives_the_mean_score_and_one_ledger() -> None:
    llm = llm_with(grade(5), grade(2), "junk", "junk again")
    report = evaluate_slm(
        [("17 * 23?", "391"), "Capital of France?", "Largest planet?"],
        slm=slm_with(),
        llm=llm,
    )
    assert report.scores == [5, 2, None]
    assert report.mean_score == pytest.approx(3.5)  # over the valid grades
    assert report.pass_rate == pytest.approx(1 / 3)
    assert len(report.results) == 3 and "Reference answer" in llm.calls[0][-1].content
    assert len(report.ledger) == 2 * 3 + 1  # an answer and a grade each, one retry
    assert report.ledger.total().cost_usd == pytest.approx(sum(r.cost_usd for r in report.results))


def test_evaluate_slm_budget_caps_the_whole_evaluation() -> None:
    config = GradingConfig(grade_max_tokens=20)
    probe = llm_judges_slm.run("Q one?", slm=slm_with(), llm=llm_with(grade(5)), config=config)
    reserved = probe.ledger.records[-1].prompt_tokens + config.grade_max_tokens
    budget = Budget(remote_tokens=reserved + 2, policy="degrade")  # one grade fits, not two
    llm = llm_with(grade(5), grade(5))
    slm = ScriptedModel(
        lambda m: grade(3) if "JSON" in m[0].content else "391", name="slm", kind="local"
    )
    report = evaluate_slm(["Q one?", "Q two?"], slm=slm, llm=llm, config=config, budget=budget)
    assert [r.degraded for r in report.results] == [False, True]
    assert report.scores == [5, 3] and len(llm.calls) == 1
