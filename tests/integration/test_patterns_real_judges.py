"""Judging patterns on the real models: SmolLM2 in-process and the embedded server over HTTP."""

from __future__ import annotations

import pytest
from collab.patterns.llm_judges_slm import GradingConfig
from collab.patterns.slm_judges_llm import GroundednessJudge, JudgedAnswerConfig, split_claims

from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.patterns import llm_judges_slm, slm_judges_llm

pytestmark = pytest.mark.integration

SOURCES = [
    "The Eiffel Tower is a wrought-iron tower in Paris, France.",
    "It was completed in 1889.",
]


def test_slm_judges_llm_checks_every_claim_and_repairs(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = embedded.remote_model()
    # No claim gets P(yes) = 1, so every attempt fails: the repair path runs to its bound.
    strict = GroundednessJudge(model=smollm2, threshold=1.0)
    config = JudgedAnswerConfig(max_repairs=1, answer_max_tokens=32)
    result = slm_judges_llm.run(
        "Where is the Eiffel Tower?",
        sources=SOURCES,
        llm=llm,
        slm=smollm2,
        judges=[strict],
        config=config,
    )
    assert (result.details["repairs"], result.details["passed"]) == (1, False)
    assert result.answered_by == llm.name and not result.degraded
    attempts = result.details["attempts"]
    assert len(attempts) == 2 and result.verdicts == attempts[-1].verdicts
    for attempt in attempts:
        (verdict,) = attempt.verdicts
        claims = split_claims(attempt.answer)
        assert verdict.judge == "grounded" and not verdict.passed
        if claims:  # the reason quotes the weakest of the claims it scored
            assert 0.0 < verdict.probability < 1.0
            assert any(repr(claim) in (verdict.reason or "") for claim in claims)
    judged = [r for r in result.ledger.records if r.role == "judge"]
    assert len(judged) == sum(len(split_claims(a.answer)) for a in attempts)
    assert all(r.kind == "local" and r.model == smollm2.name for r in judged)
    remote = [(r.role, r.kind) for r in result.ledger.records if r.role != "judge"]
    assert remote == [("answerer", "remote"), ("repairer", "remote")]
    assert result.cost_usd > 0


def test_llm_judges_slm_grades_with_a_valid_grade_or_says_why_not(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = embedded.remote_model()
    config = GradingConfig(answer_max_tokens=24, grade_max_tokens=64)
    result = llm_judges_slm.run(
        "What is the capital of France?", reference="Paris", slm=smollm2, llm=llm, config=config
    )
    assert result.answered_by == smollm2.name and result.answer
    (verdict,) = result.verdicts
    score = result.details["score"]
    if score is None:
        assert not verdict.passed and "no valid grade" in (verdict.reason or "")
    else:
        assert 1 <= score <= 5 and result.details["graded_by"] == llm.name
        assert verdict.probability == (score - 1) / 4 and verdict.passed == (score >= 4)
    grades = [r for r in result.ledger.records if r.role == "judge"]
    assert len(grades) == result.details["grade_retries"] + 1
    assert all(r.kind == "remote" for r in grades)
