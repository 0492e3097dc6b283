"""The judged-answer example's graph: SLM judges and a format guard, a repair when one fails."""

from __future__ import annotations

from collab.patterns.common import run_graph
from collab.patterns.slm_judges_llm import Attempt

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from collab.patterns import slm_judges_llm

example = load_example("judged_answer")
INPUTS = {"question": example.DEFAULT_QUESTION, "sources": example.DEFAULT_SOURCES}
CITED = "It was completed in 1889 [2] and is 330 metres tall [3]."


def slm(p_yes: float = 0.9) -> ScriptedModel:
    return ScriptedModel([], name="slm", kind="local", scores=lambda _p, _o: [p_yes, 1 - p_yes])


def llm(*answers: str) -> ScriptedModel:
    return ScriptedModel(list(answers), name="llm", kind="remote", cost_per_token_usd=0.001)


def test_a_cited_grounded_answer_passes_every_judge() -> None:
    remote = llm(CITED)
    with Run() as run:
        result = run_graph(
            example.build_graph(slm(), remote), INPUTS, run=run, read=slm_judges_llm.result_of
        )
    assert (result.answer, result.details["passed"], result.details["repairs"]) == (CITED, True, 0)
    assert [v.judge for v in result.verdicts] == ["rubric", "grounded", "format"]
    assert all(v.passed for v in result.verdicts)
    asked = remote.calls[0]
    assert asked[0].content == example.SYSTEM and "[2] The tower was completed" in asked[1].content


def test_an_uncited_answer_is_repaired_with_the_format_guards_reason() -> None:
    remote = llm("It was completed in 1889.", CITED)
    result = run_graph(example.build_graph(slm(), remote), INPUTS, read=slm_judges_llm.result_of)
    assert result.answer == CITED and result.details["repairs"] == 1
    first, second = result.details["attempts"]
    assert isinstance(first, Attempt) and not first.passed and second.passed
    [failed] = [v for v in first.verdicts if not v.passed]
    assert failed.judge == "format"
    assert "cite the sources by number" in remote.calls[1][-1].content


def test_repairs_stop_at_max_repairs_and_the_last_answer_is_returned() -> None:
    remote = llm("one", "two")
    graph = example.build_graph(slm(p_yes=0.1), remote, threshold=0.5, max_repairs=1)
    result = run_graph(graph, INPUTS, read=slm_judges_llm.result_of)
    assert (result.answer, result.details["passed"], result.details["repairs"]) == ("two", False, 1)
    assert len(remote.calls) == 2


def test_the_attempts_table_has_a_row_per_attempt() -> None:
    remote = llm("It was completed in 1889.", CITED)
    result = run_graph(example.build_graph(slm(), remote), INPUTS, read=slm_judges_llm.result_of)
    assert example.attempts_table(result.details["attempts"]).row_count == 2
