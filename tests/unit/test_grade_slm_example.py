"""The grading example's graph: the SLM answers, the LLM grades it 1-5 as structured output."""

from __future__ import annotations

from collab.patterns.common import result_from

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from collab.patterns import llm_judges_slm

example = load_example("grade_slm")


def grade(score: int, reason: str = "fine") -> str:
    return f'{{"score": {score}, "reason": "{reason}"}}'


def slm(answer: str = "Paris") -> ScriptedModel:
    return ScriptedModel(lambda _: answer, name="slm", kind="local")


def llm(*replies: str) -> ScriptedModel:
    return ScriptedModel(list(replies), name="llm", kind="remote", cost_per_token_usd=0.001)


def test_the_slm_answers_and_the_llm_grades_against_the_reference() -> None:
    remote = llm(grade(5, "correct"))
    with Run() as run:
        out = example.build_graph(slm(), remote).invoke(
            {"question": "What is the capital of France?", "reference": "Paris"}
        )
    result = result_from(out)
    assert (result.answer, result.answered_by) == ("Paris", "slm")
    [verdict] = result.verdicts
    assert verdict.passed and verdict.probability == 1.0 and verdict.reason == "5/5: correct"
    assert "Reference answer (correct): Paris" in remote.calls[0][-1].content
    assert [(r.role, r.model) for r in run.ledger.records] == [
        ("answerer", "slm"),
        ("judge", "llm"),
    ]


def test_the_pass_score_decides_the_verdict() -> None:
    graph = example.build_graph(slm(), llm(grade(4)), pass_score=5)
    [verdict] = result_from(graph.invoke({"question": "Q?", "reference": "A"})).verdicts
    assert not verdict.passed and verdict.threshold == 1.0


def test_an_invalid_grade_is_retried_once() -> None:
    out = example.build_graph(slm(), llm("five!", grade(3))).invoke({"question": "Q?"})
    assert out["details"] == {"score": 3, "graded_by": "llm", "grade_retries": 1}


def test_the_grades_table_has_a_row_per_question() -> None:
    questions = [("Capital of France?", "Paris"), ("17 x 23?", "391")]
    config = example.grading_config(pass_score=4)
    report = llm_judges_slm.evaluate_slm(
        questions, slm=slm(), llm=llm(grade(5), grade(1, "wrong")), config=config
    )
    assert (report.mean_score, report.pass_rate) == (3.0, 0.5)
    assert example.grades_table(report, questions).row_count == 2
