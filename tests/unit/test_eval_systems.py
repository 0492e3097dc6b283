"""The registry's router, draft_verify and slm_judges_llm systems, on hand-made sets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from collab.patterns.eval_systems import draft_verify_system, router_system, slm_judges_llm_system
from collab.patterns.router import DIFFICULTY_PROMPT

from collab import ScriptedModel, UserError
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.runner import EvalReport, Row, evaluate
from collab.evaluation.scoring import get_scorer
from collab.evaluation.systems import (
    EvalSetup,
    OneWaySystem,
    TwoWaySystem,
    get_pattern_eval,
    pattern_evals,
)
from collab.types import Message

USD = 0.001
"""The LLM's price per (scripted, whitespace) token."""


def dataset_of(questions: dict[str, tuple[str, ...]]) -> Dataset:
    items = tuple(
        Item(id=f"q{i}", input=q, reference=facts[0])
        for i, (q, facts) in enumerate(questions.items())
    )
    return Dataset(name="toy", items=items, instructions="Answer.", max_tokens=8, metric="exact")


def words(*texts: str) -> int:
    return sum(len(t.split()) for t in texts)


def cost_of(messages: list[Message], reply: str) -> float:
    """What the scripted LLM charges for one call."""
    return (words(*(m.content for m in messages)) + words(reply)) * USD


def rows_of(report: EvalReport) -> dict[str, Row]:
    return {r.label: r for r in report.rows if r.threshold is None}


def test_every_pattern_with_a_graph_has_an_evaluation() -> None:
    names = [p.name for p in pattern_evals()]
    assert names == ["cascade", "draft_verify", "router", "slm_judges_llm"]
    assert get_pattern_eval("router").factory is router_system


def test_the_evaluation_does_not_import_patterns_for_its_generic_logic() -> None:
    code = (
        "import sys, collab.evaluation.runner, collab.evaluation.report, "
        "collab.evaluation.calibration, collab.evaluation.systems; "
        "print(sorted(m for m in sys.modules if m == 'patterns' or m.startswith('patterns.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- router ----------------------------------------------------------------------------------

ROUTED = {  # question: (reference, the SLM's answer, the SLM's p_easy)
    "Alpha?": ("a1", "a1", 0.9),
    "Beta?": ("b2", "nope", 0.3),
    "Gamma?": ("c3", "c3", 0.6),
    "Delta?": ("d4", "nope", 0.1),
}
ROUTING_TOKENS = len(DIFFICULTY_PROMPT.format(question="Alpha?").split()) + 2  # + "yes", "no"


def routed_models() -> tuple[ScriptedModel, ScriptedModel]:
    def p_easy(prompt: str, _options: list[str]) -> list[float]:
        p = next(p for q, (_, _, p) in ROUTED.items() if q in prompt)
        return [p, 1 - p]

    slm = ScriptedModel(lambda m: ROUTED[m[-1].content][1], name="slm", kind="local", scores=p_easy)
    llm = ScriptedModel(
        lambda m: ROUTED[m[-1].content][0], name="llm", kind="remote", cost_per_token_usd=USD
    )
    return slm, llm


def run_router() -> tuple[EvalReport, ScriptedModel, ScriptedModel]:
    slm, llm = routed_models()
    dataset = dataset_of(ROUTED)
    system = router_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    assert isinstance(system, TwoWaySystem) and system.escalation == "replaces"
    report = evaluate(system, dataset, scorer=get_scorer("exact"), keep=0.95)
    return report, slm, llm


def test_the_router_routes_answers_and_asks_each_side_once_per_item() -> None:
    report, slm, llm = run_router()
    assert len(slm.calls) == len(llm.calls) == 4  # scoring calls are not in .calls
    assert all([m.content for m in c] == ["Answer.", c[-1].content] for c in llm.calls)
    first = report.items[0]
    assert first.confidence == pytest.approx(0.9)
    assert first.decision is not None and first.decision.local_tokens == ROUTING_TOKENS
    assert first.cheap is not None and (first.cheap.answer, first.cheap.score) == ("a1", 1.0)
    assert first.expensive is not None and first.expensive.answer == "a1"


def test_the_router_counterfactuals_are_each_model_alone_without_routing() -> None:
    report, _, _ = run_router()
    rows = rows_of(report)
    llm_answer_usd = words("Answer.", "Alpha?", "a1") * USD  # every question and answer is 1 word
    assert rows["llm-only"].accuracy == 1.0 and rows["llm-only"].escalation_rate == 1.0
    assert rows["llm-only"].remote_usd == pytest.approx(llm_answer_usd)
    assert rows["llm-only"].local_tokens == 0
    assert (rows["slm-only"].accuracy, rows["slm-only"].remote_usd) == (0.5, 0.0)
    assert rows["slm-only"].local_tokens == words("Answer.", "Alpha?", "a1")
    assert report.spent_remote_usd == pytest.approx(4 * llm_answer_usd)


def test_a_routed_question_pays_the_routing_and_one_answer() -> None:
    report, _, _ = run_router()
    slm_answer = words("Answer.", "Alpha?", "a1")
    llm_answer_usd = words("Answer.", "Alpha?", "a1") * USD
    sweep = {round(r.escalation_rate, 2): r for r in report.curve}
    # Below 0.6: Beta and Delta go to the LLM; Alpha and Gamma stay with the SLM.
    half = sweep[0.5]
    assert half.accuracy == 1.0 and half.calibrated
    assert half.remote_usd == pytest.approx(2 * llm_answer_usd / 4)
    assert half.local_tokens == ROUTING_TOKENS + 2 * slm_answer / 4  # not 4 SLM answers
    everything = sweep[1.0]
    assert everything.remote_usd == pytest.approx(llm_answer_usd)
    assert everything.local_tokens == ROUTING_TOKENS  # routing only: nobody answers twice
    assert sweep[0.0].local_tokens == ROUTING_TOKENS + slm_answer
    assert [r.threshold for r in report.curve][:3] == [0.0, 0.1, 0.3]


def test_the_router_refuses_an_slm_that_cannot_score() -> None:
    class Bare:
        name, kind = "bare", "local"

    setup = EvalSetup(slm=Bare(), llm=routed_models()[1], dataset=dataset_of(ROUTED))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="has no score"):
        router_system(setup)


# -- draft_verify ----------------------------------------------------------------------------

DRAFTED = {"Alpha?": ("a1", "a1"), "Beta?": ("b2", "nope")}  # question: (reference, draft)


def verifying_llm() -> ScriptedModel:
    def reply(messages: list[Message]) -> str:
        text = messages[-1].content
        question = next(q for q in DRAFTED if q in text)
        reference, draft = DRAFTED[question]
        if messages[0].content.startswith("You check answers"):
            return "ACCEPT" if draft == reference else reference
        return reference

    return ScriptedModel(reply, name="llm", kind="remote", cost_per_token_usd=USD)


def test_draft_verify_is_one_row_after_the_llm_and_the_slm_alone() -> None:
    slm = ScriptedModel(lambda m: DRAFTED[m[-1].content][1], name="slm", kind="local")
    llm = verifying_llm()
    dataset = dataset_of(DRAFTED)
    system = draft_verify_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    assert isinstance(system, OneWaySystem) and list(system.baselines) == ["llm-only", "slm-only"]
    report = evaluate(system, dataset, scorer=get_scorer("exact"))

    assert [r.label for r in report.rows] == ["llm-only", "slm-only", "draft_verify"]
    rows = rows_of(report)
    assert (rows["llm-only"].accuracy, rows["llm-only"].escalation_rate) == (1.0, 1.0)
    assert (rows["slm-only"].accuracy, rows["slm-only"].escalation_rate) == (0.5, 0.0)
    # The draft of Alpha is accepted, Beta's is corrected: both right, one escalated.
    assert (rows["draft_verify"].accuracy, rows["draft_verify"].escalation_rate) == (1.0, 0.5)
    # llm.calls: Alpha (verify, baseline), Beta (verify, baseline).
    verify_alpha, _, verify_beta, _ = llm.calls
    verify_usd = [cost_of(verify_alpha, "ACCEPT"), cost_of(verify_beta, "b2")]
    assert verify_alpha[0].content.startswith("You check answers")
    assert "Answer." in verify_alpha[0].content  # the verifier sees the dataset's instructions
    assert rows["draft_verify"].remote_usd == pytest.approx(sum(verify_usd) / 2)
    assert rows["draft_verify"].local_tokens == words("Answer.", "Alpha?", "a1")  # the drafts
    assert rows["llm-only"].remote_usd == pytest.approx(words("Answer.", "Alpha?", "a1") * USD)
    assert rows["slm-only"].remote_usd == 0.0
    assert report.spent_remote_usd == pytest.approx(
        sum(verify_usd) + 2 * words("Answer.", "Alpha?", "a1") * USD
    )
    assert [i.escalated for i in report.items] == [False, True]
    assert report.items[1].baselines["slm-only"].answer == "nope"
    assert report.keep is None and report.curve == []


# -- slm_judges_llm --------------------------------------------------------------------------

JUDGED = {"Alpha?": ("a1", "a1"), "Beta?": ("b2", "bad")}  # question: (reference, first answer)


def test_slm_judges_llm_repairs_what_the_slm_judge_fails() -> None:
    def answer(messages: list[Message]) -> str:
        question = messages[1].content
        reference, first = JUDGED[question]
        return reference if messages[-1].content.startswith("Your answer has") else first

    def rubric(prompt: str, _options: list[str]) -> list[float]:
        return [0.1, 0.9] if "<answer>\nbad" in prompt else [0.9, 0.1]

    slm = ScriptedModel(lambda _: "nope", name="slm", kind="local", scores=rubric)
    llm = ScriptedModel(answer, name="llm", kind="remote", cost_per_token_usd=USD)
    dataset = dataset_of(JUDGED)
    system = slm_judges_llm_system(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer("exact"))

    assert [r.label for r in report.rows] == ["llm-only", "slm-only", "slm_judges_llm"]
    rows = rows_of(report)
    assert rows["llm-only"].accuracy == 0.5  # "bad" for Beta
    assert rows["slm-only"].accuracy == 0.0
    judged = rows["slm_judges_llm"]
    assert (judged.accuracy, judged.escalation_rate) == (1.0, 1.0)  # the LLM answers all
    # llm.calls: Alpha (pattern, baseline), Beta (pattern, repair, baseline).
    alpha, _, beta, repair, _ = llm.calls
    assert repair[-1].content.startswith("Your answer has") and "rubric" in repair[-1].content
    pattern_usd = cost_of(alpha, "a1") + cost_of(beta, "bad") + cost_of(repair, "b2")
    assert judged.remote_usd == pytest.approx(pattern_usd / 2)
    assert judged.pareto


def test_slm_judges_llm_refuses_an_slm_that_cannot_score_before_any_item() -> None:
    class Bare:
        name, kind = "bare", "local"

    llm = ScriptedModel(lambda _: "a1", name="llm", kind="remote")
    setup = EvalSetup(slm=Bare(), llm=llm, dataset=dataset_of(JUDGED))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="has no score"):
        slm_judges_llm_system(setup)
    assert llm.calls == []
