"""patterns.slm_judges_llm: the LLM answers, local judges check, failed answers are repaired."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.common import Verdict
from collab.patterns.slm_judges_llm import (
    AnswerJudge,
    FormatGuard,
    GroundednessJudge,
    JudgedAnswerConfig,
    RubricJudge,
    calibrate_judge,
    split_claims,
)
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from collab import Budget, Run, ScriptedModel, UserError
from collab.graph import ledger_of
from collab.patterns import slm_judges_llm

SOURCES = ["The Eiffel Tower is in Paris.", "It was completed in 1889."]


def llm_with(*answers: str) -> ScriptedModel:
    return ScriptedModel(list(answers), name="llm", kind="remote", cost_per_token_usd=0.001)


def slm_doubting(*phrases: str, reply: str = "slm answer") -> ScriptedModel:
    """An SLM judge that says "no" (p_yes=0.1) to prompts containing any of ``phrases``."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        assert options == ["yes", "no"]
        return [0.1, 0.9] if any(p in prompt for p in phrases) else [0.9, 0.1]

    return ScriptedModel(lambda _: reply, name="slm", kind="local", scores=scores)


class Fixed:
    """A custom judge: a fixed probability per answer, recording what it was asked."""

    def __init__(self, probabilities: dict[str, float], name: str = "fixed") -> None:
        self.name = name
        self.probabilities = probabilities
        self.seen: list[tuple[str, str, list[str]]] = []

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        self.seen.append((question, answer, list(sources)))
        p = self.probabilities.get(answer, 0.0)
        return Verdict(judge=self.name, passed=p >= 0.5, probability=p, threshold=0.5, reason="x")


# -- the loop ------------------------------------------------------------------------------


def test_an_answer_that_passes_is_returned_without_repair() -> None:
    slm, llm = slm_doubting(), llm_with("It is in Paris.")
    result = slm_judges_llm.run("Where is the tower?", sources=SOURCES, llm=llm, slm=slm)
    assert (result.answer, result.answered_by) == ("It is in Paris.", "llm")
    assert [v.judge for v in result.verdicts] == ["rubric", "grounded"]
    assert all(v.passed for v in result.verdicts)
    assert (result.details["repairs"], result.details["passed"]) == (0, True)
    assert len(result.details["attempts"]) == 1 and len(llm.calls) == 1
    roles = [(r.node, r.role, r.model) for r in result.ledger.records]
    assert roles == [("answer", "answerer", "llm"), *[("judge", "judge", "slm")] * 2]
    assert "[1] The Eiffel Tower is in Paris." in llm.calls[0][-1].content


def test_a_failed_answer_is_repaired_with_the_judges_reasons_and_judged_again() -> None:
    slm = slm_doubting("<claim>\nIt is in Rome.\n</claim>")
    llm = llm_with("It is in Rome.", "It is in Paris.")
    result = slm_judges_llm.run("Where is the tower?", sources=SOURCES, llm=llm, slm=slm)
    assert result.answer == "It is in Paris." and result.details["passed"] is True
    assert result.details["repairs"] == 1
    first, second = result.details["attempts"]
    assert first.answer == "It is in Rome." and not first.passed
    failed = next(v for v in first.verdicts if not v.passed)
    assert failed.judge == "grounded" and "It is in Rome." in (failed.reason or "")
    asked = llm.calls[1]
    assert [m.role for m in asked] == ["system", "user", "assistant", "user"]
    assert asked[2].content == "It is in Rome."
    assert "- grounded: this claim is not supported" in asked[3].content
    assert "rubric" not in asked[3].content  # only the failed verdicts are fed back
    assert second.passed and result.verdicts == second.verdicts
    assert [r.role for r in result.ledger.records if r.model == "llm"] == ["answerer", "repairer"]


def test_when_repairs_run_out_the_last_answer_is_returned_as_not_passed() -> None:
    judge = Fixed({})  # fails everything
    llm = llm_with("one", "two", "three")
    config = JudgedAnswerConfig(max_repairs=2)
    result = slm_judges_llm.run("Q?", llm=llm, slm=slm_doubting(), judges=[judge], config=config)
    assert result.answer == "three"
    assert (result.details["repairs"], result.details["passed"]) == (2, False)
    assert [a.answer for a in result.details["attempts"]] == ["one", "two", "three"]
    assert not result.verdicts[0].passed and len(llm.calls) == 3


def test_no_repairs_allowed_returns_the_first_answer() -> None:
    llm = llm_with("one")
    config = JudgedAnswerConfig(max_repairs=0)
    result = slm_judges_llm.run(
        "Q?", llm=llm, slm=slm_doubting(), judges=[Fixed({})], config=config
    )
    assert (result.answer, result.details["repairs"], result.details["passed"]) == ("one", 0, False)


def test_default_judges_check_groundedness_only_when_there_are_sources() -> None:
    result = slm_judges_llm.run("Q?", llm=llm_with("A."), slm=slm_doubting())
    assert [v.judge for v in result.verdicts] == ["rubric"]


def test_default_judges_need_an_slm_that_scores() -> None:
    class NoScore:
        name = "plain"

    with pytest.raises(UserError, match="has no score"):
        slm_judges_llm.build(llm=llm_with(), slm=NoScore())  # type: ignore[arg-type]


# -- the built-in judges -------------------------------------------------------------------


def test_rubric_judge_scores_each_criterion_and_names_the_weakest() -> None:
    slm = slm_doubting("Criterion: cites a source")
    judge = RubricJudge(model=slm, criteria=["is polite", "cites a source"], threshold=0.4)
    verdict = judge("Where?", "In Paris.", [])
    assert (verdict.judge, verdict.passed, verdict.threshold) == ("rubric", False, 0.4)
    assert verdict.probability == pytest.approx(0.1)
    assert "'cites a source'" in (verdict.reason or "")
    assert judge("Where?", "In Paris.", []).probability == pytest.approx(0.1)
    passing = RubricJudge(model=slm, criteria=["is polite"])("Where?", "In Paris.", [])
    assert passing.passed and passing.probability == pytest.approx(0.9)


def test_rubric_judge_asks_about_the_question_and_the_answer() -> None:
    seen: list[str] = []
    slm = ScriptedModel([], kind="local", scores=lambda p, o: seen.append(p) or [0.5, 0.5])
    RubricJudge(model=slm, criteria=["is short"])("Capital?", "Paris", [])
    assert "<question>\nCapital?\n</question>" in seen[0] and "<answer>\nParis" in seen[0]
    assert "Criterion: is short" in seen[0]


def test_groundedness_judge_fails_on_the_unsupported_claim_and_names_it() -> None:
    slm = slm_doubting("<claim>\nIt was painted blue.\n</claim>")
    judge = GroundednessJudge(model=slm)
    verdict = judge("Tell me.", "The tower is in Paris. It was painted blue.", SOURCES)
    assert (verdict.judge, verdict.passed) == ("grounded", False)
    assert verdict.probability == pytest.approx(0.1)  # the minimum over the claims
    assert "'It was painted blue.'" in (verdict.reason or "")
    supported = judge("Tell me.", "The tower is in Paris. It was completed in 1889.", SOURCES)
    assert supported.passed and supported.probability == pytest.approx(0.9)


def test_groundedness_judge_scores_each_claim_against_the_numbered_sources() -> None:
    seen: list[str] = []
    slm = ScriptedModel([], kind="local", scores=lambda p, o: seen.append(p) or [0.8, 0.2])
    GroundednessJudge(model=slm)("Q?", "One. Two!", SOURCES)
    assert len(seen) == 2
    assert "[1] The Eiffel Tower is in Paris.\n[2] It was completed in 1889." in seen[0]
    assert "<claim>\nOne.\n</claim>" in seen[0] and "<claim>\nTwo!\n</claim>" in seen[1]


def test_groundedness_without_sources_or_answer_fails_without_a_call() -> None:
    slm = ScriptedModel([], kind="local", scores=lambda p, o: pytest.fail("no call expected"))
    no_sources = GroundednessJudge(model=slm)("Q?", "An answer.", [])
    empty = GroundednessJudge(model=slm)("Q?", "  ", SOURCES)
    assert not no_sources.passed and no_sources.probability == 0.0
    assert "no sources" in (no_sources.reason or "") and "empty" in (empty.reason or "")


def test_split_claims_splits_sentences_and_list_items() -> None:
    text = "Paris is big. Is it old? Yes!\n- It has a tower.\n2) It is French.\n..."
    assert split_claims(text) == [
        "Paris is big.",
        "Is it old?",
        "Yes!",
        "It has a tower.",
        "It is French.",
    ]


class Reply(BaseModel):
    city: str


@pytest.mark.parametrize(
    ("guard", "answer", "problem"),
    [
        (FormatGuard(regex=r"\[\d+\]"), "Paris.", "does not match the required pattern"),
        (FormatGuard(schema=Reply), "Paris", "not valid JSON"),
        (FormatGuard(schema=Reply), '{"town": "Paris"}', "does not match Reply"),
        (FormatGuard(max_chars=5), "Paris, France", "13 characters long, over the limit of 5"),
        (FormatGuard(banned=["as an AI"]), "As an AI, I say Paris.", "banned term 'as an AI'"),
    ],
)
def test_format_guard_fails_each_check_with_a_reason(
    guard: FormatGuard, answer: str, problem: str
) -> None:
    verdict = guard("Q?", answer, [])
    assert (verdict.judge, verdict.passed, verdict.probability) == ("format", False, 0.0)
    assert problem in (verdict.reason or "")


def test_format_guard_passes_a_well_formed_answer() -> None:
    guard = FormatGuard(regex=r"Paris", schema=Reply, max_chars=40, banned=["London"])
    verdict = guard("Q?", '{"city": "Paris"}', [])
    assert verdict.passed and verdict.probability == 1.0


def test_format_guard_lists_every_failure_and_matches_banned_terms_as_words() -> None:
    guard = FormatGuard(regex=r"^\d+$", max_chars=3, banned=["bad"])
    verdict = guard("Q?", "badge and BAD", [])
    reason = verdict.reason or ""
    assert "pattern" in reason and "limit of 3" in reason
    assert reason.count("banned") == 1  # "badge" is not the word "bad"


def test_format_guard_says_what_the_pattern_asks_for_so_the_repair_can_fix_it() -> None:
    guard = FormatGuard(regex=r"\[\d+\]", regex_hint="cite the sources like [1]")
    llm = llm_with("Paris.", "Paris [1].")
    result = slm_judges_llm.run("Q?", llm=llm, slm=slm_doubting(), judges=[guard])
    assert result.answer == "Paris [1]." and result.details["repairs"] == 1
    assert r"pattern \[\d+\] (cite the sources like [1])" in llm.calls[1][-1].content


def test_format_guard_asks_the_safety_question_only_when_the_checks_pass() -> None:
    slm = slm_doubting("<answer>\nrude")
    guard = FormatGuard(max_chars=20, safety_model=slm, threshold=0.5)
    assert guard("Q?", "polite", []).probability == pytest.approx(0.9)
    unsafe = guard("Q?", "rude", [])
    assert not unsafe.passed and "unsafe" in (unsafe.reason or "")
    calls = len(slm.calls)
    assert guard("Q?", "x" * 30, []).probability == 0.0
    assert len(slm.calls) == calls


def test_format_guard_rejects_a_bad_regex_when_built() -> None:
    import re

    with pytest.raises(re.error):
        FormatGuard(regex="(")


# -- custom judges and calibration ---------------------------------------------------------


def test_a_custom_judge_is_called_with_question_answer_and_sources() -> None:
    judge = Fixed({"fixed answer": 0.8}, name="house-style")
    assert isinstance(judge, AnswerJudge)
    llm = llm_with("draft", "fixed answer")
    result = slm_judges_llm.run("Q?", sources=SOURCES, llm=llm, slm=slm_doubting(), judges=[judge])
    assert judge.seen == [("Q?", "draft", SOURCES), ("Q?", "fixed answer", SOURCES)]
    assert result.answer == "fixed answer" and result.verdicts[0].judge == "house-style"
    assert "- house-style: x" in llm.calls[1][-1].content


def test_calibrate_judge_fits_a_threshold_between_good_and_bad_answers() -> None:
    probabilities = {"g1": 0.9, "g2": 0.7, "g3": 0.35, "b1": 0.4, "b2": 0.2, "b3": 0.1}
    judge = Fixed(probabilities)
    labelled = [("Q?", answer, [], answer.startswith("g")) for answer in probabilities]
    fitted = calibrate_judge(judge, labelled)
    assert fitted.objective == "balanced_accuracy" and (fitted.n_good, fitted.n_bad) == (3, 3)
    assert fitted.probabilities == list(probabilities.values())
    # 0.55 passes g1, g2 only (recall 2/3, no false pass); 0.275 passes all good and b1.
    # Both have balanced accuracy 5/6: the tie goes to the stricter threshold.
    assert fitted.threshold == pytest.approx(0.55)
    assert (fitted.precision, fitted.recall) == (1.0, pytest.approx(2 / 3))
    assert fitted.balanced_accuracy == pytest.approx(5 / 6)
    # F1 ignores true rejections: 0.275 (precision 3/4, recall 1) beats 0.55 (F1 0.8).
    f1 = calibrate_judge(judge, labelled, objective="f1")
    assert f1.threshold == pytest.approx(0.275) and f1.f1 == pytest.approx(6 / 7)


def test_calibrate_judge_on_a_deterministic_judge_cuts_between_zero_and_one() -> None:
    guard = FormatGuard(max_chars=5)
    labelled = [("Q?", "short", [], True), ("Q?", "far too long", [], False)]
    fitted = calibrate_judge(guard, labelled)
    assert fitted.threshold == 0.5 and fitted.balanced_accuracy == 1.0


def test_calibrate_judge_can_pass_everything_when_that_is_best() -> None:
    probabilities = {"g1": 0.9, "g2": 0.6, "g3": 0.5, "b1": 0.55}
    labelled = [("Q?", answer, [], answer.startswith("g")) for answer in probabilities]
    fitted = calibrate_judge(Fixed(probabilities), labelled, objective="f1")
    assert fitted.threshold == 0.0 and fitted.f1 == pytest.approx(6 / 7)
    assert (fitted.precision, fitted.recall) == (0.75, 1.0)


def test_calibrate_judge_needs_both_good_and_bad_answers() -> None:
    with pytest.raises(UserError, match="good and bad"):
        calibrate_judge(Fixed({}), [("Q?", "a", [], True), ("Q?", "b", [], True)])


# -- budget, graphs, async, stream ---------------------------------------------------------


def test_an_exhausted_budget_degrades_the_llm_to_the_slm_and_says_so() -> None:
    slm, llm = slm_doubting(reply="local answer"), llm_with("remote answer")
    result = slm_judges_llm.run("Q?", llm=llm, slm=slm, budget=Budget(usd=0.0, policy="degrade"))
    assert result.degraded and (result.answer, result.answered_by) == ("local answer", "slm")
    assert llm.calls == [] and result.details["passed"] is True
    assert result.ledger.records[0].outcome == "degraded"


def test_works_as_a_subgraph_of_a_user_graph() -> None:
    slm, llm = slm_doubting("<claim>\nRome.\n</claim>"), llm_with("Rome.", "Paris.")

    class Outer(TypedDict, total=False):
        question: str
        sources: list[str]
        answer: str
        collab_calls: Annotated[list[dict[str, Any]], operator.add]

    def shout(state: Outer) -> dict[str, Any]:
        return {"answer": state["answer"].upper()}

    builder = StateGraph(Outer)
    builder.add_node("judged", slm_judges_llm.build(llm=llm, slm=slm))
    builder.add_node("shout", shout)
    builder.add_edge(START, "judged")
    builder.add_edge("judged", "shout")
    builder.add_edge("shout", END)
    with Run() as run:
        out = builder.compile().invoke({"question": "Where?", "sources": SOURCES})
    assert out["answer"] == "PARIS."
    roles = [r.role for r in ledger_of(out).records]
    assert roles == ["answerer", "judge", "judge", "repairer", "judge", "judge"]
    assert len(run.ledger) == 6


async def test_async_run_gives_the_same_result() -> None:
    slm = slm_doubting("<claim>\nRome.\n</claim>")
    result = await slm_judges_llm.arun(
        "Where?", sources=SOURCES, llm=llm_with("Rome.", "Paris."), slm=slm
    )
    assert (result.answer, result.details["repairs"], result.details["passed"]) == (
        "Paris.",
        1,
        True,
    )


def test_streams_its_steps() -> None:
    slm = slm_doubting("<claim>\nRome.\n</claim>")
    graph = slm_judges_llm.build(llm=llm_with("Rome.", "Paris."), slm=slm)
    with Run():
        steps = list(
            graph.stream({"question": "Where?", "sources": SOURCES}, stream_mode="updates")
        )
    assert [next(iter(step)) for step in steps] == ["answer", "judge", "repair", "judge", "finish"]
    assert steps[1]["judge"]["passed"] is False and steps[3]["judge"]["passed"] is True
    assert steps[-1]["finish"]["details"]["repairs"] == 1


def test_the_judges_module_is_re_exported_by_the_pattern() -> None:
    from collab.patterns import answer_judges

    shared = set(answer_judges.__all__) & set(slm_judges_llm.__all__)
    assert shared == set(answer_judges.__all__) - {"Labelled", "numbered_sources"}
    for name in shared:
        assert getattr(slm_judges_llm, name) is getattr(answer_judges, name)


def test_a_program_judge_makes_the_llm_repair_code_that_fails_its_docstring_examples() -> None:
    from collab.patterns.answer_judges import ProgramJudge

    from collab.evaluation.verifiers import DocstringExamples

    question = (
        "Complete this Python function:\n\n```python\ndef double(x: int) -> int:\n"
        '    """Twice x.\n    >>> double(3)\n    6\n    """\n```'
    )
    wrong = "```python\ndef double(x: int) -> int:\n    return x + 2\n```"
    right = "```python\ndef double(x: int) -> int:\n    return 2 * x\n```"
    llm = llm_with(wrong, right)
    slm = ScriptedModel([], name="slm", kind="local")
    judge = ProgramJudge(DocstringExamples())
    result = slm_judges_llm.run(question, llm=llm, slm=slm, judges=[judge])
    assert result.answer == right and result.details["repairs"] == 1
    first = result.details["attempts"][0]
    assert not first.passed and first.verdicts[0].judge == "docstring-examples"
    assert "fails the docstring-examples check" in llm.calls[1][-1].content
    assert slm.calls == []  # no model judged
