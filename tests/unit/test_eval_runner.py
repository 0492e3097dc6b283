"""The runner: each side once per item, counterfactual and threshold rows, errors kept per item."""

from __future__ import annotations

import pytest
from collab.patterns.common import PatternResult
from collab.patterns.eval_systems import cascade_system

from collab import ScriptedModel
from collab.errors import ModelCallError, ServerUnreachableError, UserError
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.runner import EvalReport, Row, evaluate
from collab.evaluation.scoring import get_scorer
from collab.evaluation.systems import EvalSetup, OneWaySystem, TwoWaySystem
from collab.types import Message

QUESTIONS = {  # question: (reference, the SLM's draft, the SLM's confidence in it)
    "Capital of France?": ("Paris", "Paris", 0.9),
    "17 * 23?": ("391", "421", 0.3),
    "Largest planet?": ("Jupiter", "Jupiter", 0.8),
    "Author of Emma?": ("Jane Austen", "Dickens", 0.2),
}
DATASET = Dataset(
    name="toy",
    items=tuple(
        Item(id=f"q{i}", input=q, reference=r) for i, (q, (r, _, _)) in enumerate(QUESTIONS.items())
    ),
    instructions="Answer briefly.",
    max_tokens=16,
)


def question_in(messages: list[Message]) -> str:
    return messages[-1].content.split("\n\n")[0]


def make_models(*, fail_on: str | None = None) -> tuple[ScriptedModel, ScriptedModel]:
    def draft(messages: list[Message]) -> str:
        if fail_on and fail_on in messages[-1].content:
            raise ModelCallError("llama.cpp failed")
        return QUESTIONS[question_in(messages)][1]

    def confidence(prompt: str, _options: list[str]) -> list[float]:
        p = next(c for q, (_, _, c) in QUESTIONS.items() if q in prompt)
        return [p, 1 - p]

    slm = ScriptedModel(draft, name="slm", kind="local", scores=confidence)
    llm = ScriptedModel(
        lambda m: f"It is {QUESTIONS[question_in(m)][0]}.",
        name="llm",
        kind="remote",
        cost_per_token_usd=0.001,
    )
    return slm, llm


def run_cascade(
    dataset: Dataset = DATASET, **kwargs: object
) -> tuple[EvalReport, ScriptedModel, ScriptedModel]:
    slm, llm = make_models()
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer("contains"), metric="contains", **kwargs)  # type: ignore[arg-type]
    return report, slm, llm


def by_label(report: EvalReport) -> dict[str, Row]:
    return {r.label: r for r in report.rows if r.threshold is None}


def test_each_side_answers_each_item_once() -> None:
    report, slm, llm = run_cascade()
    assert len(slm.calls) == len(llm.calls) == 4
    assert [i.id for i in report.items] == ["q0", "q1", "q2", "q3"]
    first = report.items[0]
    assert first.confidence == pytest.approx(0.9)
    assert first.cheap is not None and first.cheap.answer == "Paris" and first.cheap.score == 1
    assert first.expensive is not None and first.expensive.answer == "It is Paris."


def test_the_llm_is_asked_what_the_cascade_would_send_it() -> None:
    _, _, llm = run_cascade()
    asked = [m[-1].content for m in llm.calls]
    assert asked[1].startswith("17 * 23?") and "'421'" in asked[1]  # the draft as a hint
    assert all(m[0].content == "Answer briefly." for m in llm.calls)  # the dataset's instructions


def test_counterfactual_rows_say_accuracy_cost_tokens_and_escalation() -> None:
    report, _, _ = run_cascade()
    rows = by_label(report)
    llm_only, slm_only = rows["llm-only"], rows["slm-only"]
    assert (llm_only.accuracy, llm_only.escalation_rate, llm_only.local_tokens) == (1.0, 1.0, 0)
    assert llm_only.remote_usd > 0
    assert (slm_only.accuracy, slm_only.escalation_rate, slm_only.remote_usd) == (0.5, 0.0, 0.0)
    assert slm_only.local_tokens > 0
    assert report.spent_remote_usd == pytest.approx(4 * llm_only.remote_usd)
    assert report.errors == 0


def test_threshold_rows_follow_the_confidences_offline() -> None:
    report, _, _ = run_cascade()
    sweep = [r for r in report.rows if r.threshold is not None]
    assert [(r.escalation_rate, r.accuracy) for r in sweep] == [
        (0.0, 0.5),  # never escalate
        (0.25, 0.75),  # below 0.3: "Author of Emma?"
        (0.5, 1.0),  # below 0.8: both wrong drafts
        (0.75, 1.0),
        (1.0, 1.0),  # always escalate
    ]
    costs = [r.remote_usd for r in sweep]
    assert costs == sorted(costs) and costs[0] == 0
    calibrated = [r for r in sweep if r.calibrated]
    assert len(calibrated) == 1 and calibrated[0].escalation_rate == 0.5
    # The plot's curve keeps every threshold, 0.2 too (it changes nothing: no confidence < 0.2).
    assert [r.threshold for r in report.curve][:3] == [0.0, 0.2, 0.3]
    assert {r.threshold for r in sweep} < {r.threshold for r in report.curve}


def test_the_pareto_rows_are_the_cheapest_for_their_accuracy() -> None:
    report, _, _ = run_cascade()
    pareto = [(r.label, r.escalation_rate) for r in report.rows if r.pareto]
    assert pareto == [("slm-only", 0.0), ("cascade", 0.0), ("cascade", 0.25), ("cascade", 0.5)]


def test_a_long_sweep_is_cut_to_eight_rows_keeping_ends_and_calibrated() -> None:
    items = tuple(Item(id=f"q{i}", input=f"Question {i}?", reference="yes") for i in range(30))
    dataset = Dataset(name="many", items=items, max_tokens=8)
    slm = ScriptedModel(
        lambda m: "yes" if int(m[-1].content.split()[1].rstrip("?")) % 3 else "no",
        name="slm",
        kind="local",
        scores=lambda p, _o: [(int(p.split("Question ")[1].split("?")[0]) + 1) / 32, 0.5],
    )
    llm = ScriptedModel(lambda _: "yes", name="llm", kind="remote", cost_per_token_usd=0.001)
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer("exact"))
    sweep = [r for r in report.rows if r.threshold is not None]
    assert len(report.curve) == 32 and len(sweep) == 8
    assert sweep[0].escalation_rate == 0.0 and sweep[-1].escalation_rate == 1.0
    assert any(r.calibrated for r in sweep)
    assert [r.threshold for r in sweep] == sorted(r.threshold for r in sweep)


def test_a_failing_item_is_kept_with_its_error_and_scores_zero() -> None:
    slm, llm = make_models(fail_on="17 * 23?")
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=DATASET))
    report = evaluate(system, DATASET, scorer=get_scorer("contains"))
    failed = report.items[1]
    assert failed.cheap is not None and failed.cheap.error == "ModelCallError: llama.cpp failed"
    assert failed.cheap.score == 0 and failed.confidence == 0.0
    assert failed.expensive is not None and failed.expensive.score == 1
    assert report.errors == 1 and by_label(report)["slm-only"].accuracy == 0.5


def test_an_error_that_would_fail_every_item_stops_the_evaluation() -> None:
    def unreachable(_question: str) -> PatternResult:
        raise ServerUnreachableError("nothing answers at http://127.0.0.1:1")

    with pytest.raises(ServerUnreachableError):
        evaluate(OneWaySystem("broken", unreachable), DATASET, scorer=get_scorer("contains"))


def test_a_one_way_system_is_one_row() -> None:
    def answer(question: str) -> PatternResult:
        reference = QUESTIONS[question][0]
        return PatternResult(answer=reference, answered_by="me", escalated=question.startswith("C"))

    progress: list[tuple[int, int]] = []
    report = evaluate(
        OneWaySystem("oracle", answer),
        DATASET,
        scorer=get_scorer("exact"),
        on_item=lambda done, total: progress.append((done, total)),
    )
    [row] = report.rows
    assert (row.label, row.accuracy, row.escalation_rate, row.pareto) == ("oracle", 1.0, 0.25, True)
    assert report.curve == [] and report.items[0].escalated is True
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_two_way_system_need_not_be_a_pattern() -> None:
    def cheap(item: Item) -> PatternResult:
        return PatternResult(answer="?", answered_by="c", details={"confidence": 0.5})

    def expensive(item: Item, _cheap: PatternResult) -> PatternResult:
        return PatternResult(answer=item.reference, answered_by="e")

    system = TwoWaySystem("custom", cheap, expensive, cheap_label="cheap", expensive_label="dear")
    report = evaluate(system, DATASET, scorer=get_scorer("exact"))
    assert by_label(report)["dear"].accuracy == 1.0 and by_label(report)["cheap"].accuracy == 0.0


def test_a_scoring_error_scores_zero_and_is_kept() -> None:
    def fussy(item: Item, answer: str) -> float:
        if item.id == "q0":
            raise UserError("prompt of 9000 tokens does not fit the judge's context")
        return 1.0

    slm, llm = make_models()
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=DATASET))
    report = evaluate(system, DATASET, scorer=fussy)
    first = report.items[0]
    assert first.cheap is not None and first.cheap.score == 0.0
    assert first.cheap.error == (
        "scoring: UserError: prompt of 9000 tokens does not fit the judge's context"
    )
    assert first.cheap.answer == "Paris"


def test_a_bad_keep_is_refused_before_any_model_call() -> None:
    slm, llm = make_models()
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=DATASET))
    with pytest.raises(UserError, match="keep must be"):
        evaluate(system, DATASET, scorer=get_scorer("contains"), keep=0.0)
    assert slm.calls == [] and llm.calls == []


def test_a_held_out_row_decides_each_half_at_the_threshold_the_other_half_chose() -> None:
    # 12 questions, confidence rising with the number; the SLM is wrong on 0, 3, 6 and 9.
    items = tuple(Item(id=f"q{i}", input=f"Question {i}?", reference="yes") for i in range(12))
    dataset = Dataset(name="twelve", items=items, max_tokens=8)
    number = lambda text: int(text.split("Question ")[1].split("?")[0])  # noqa: E731
    slm = ScriptedModel(
        lambda m: "no" if number(m[-1].content) % 3 == 0 else "yes",
        name="slm",
        kind="local",
        scores=lambda p, _o: [(number(p) + 1) / 13, 0.5],
    )
    llm = ScriptedModel(lambda _: "yes", name="llm", kind="remote", cost_per_token_usd=0.001)
    system = cascade_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer("exact"))
    [held_out] = [r for r in report.rows if r.held_out]
    [calibrated] = [r for r in report.rows if r.calibrated]
    assert held_out.threshold is None and held_out.label == system.name
    # In sample: escalate below q10, every answer right. Held out: the odd half's wrong q9
    # needs a threshold above it, which escalates all the even half; the even half's
    # threshold (above q6) leaves q9 with the SLM.
    assert (calibrated.accuracy, calibrated.escalation_rate) == (1.0, 10 / 12)
    assert held_out.accuracy == pytest.approx(11 / 12)
    assert held_out.escalation_rate == pytest.approx(10 / 12)


def test_too_few_items_for_two_halves_get_no_held_out_row() -> None:
    report, _, _ = run_cascade()
    assert report.n_items < 10 and not any(r.held_out for r in report.rows)
