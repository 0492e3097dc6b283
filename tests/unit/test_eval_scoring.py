"""Scorers: text metrics against the reference, the SLM judge, names and their errors."""

from __future__ import annotations

import pytest

from collab import ScriptedModel
from collab.errors import UserError
from collab.evaluation.datasets import Item
from collab.evaluation.scoring import SCORERS, check_fits, get_scorer, judge_scorer

ITEM = Item(id="q", input="What is 17 * 23?", reference="391")


def test_text_metrics_compare_with_the_reference() -> None:
    assert get_scorer("contains")(ITEM, "It is 391.") == 1.0
    assert get_scorer("exact")(ITEM, "It is 391.") == 0.0
    assert get_scorer("numeric")(ITEM, "17 * 23 = 391.0") == 1.0


def test_the_judge_says_yes_from_the_models_logits_and_reads_the_reference() -> None:
    prompts: list[str] = []

    def scores(prompt: str, options: list[str]) -> list[float]:
        prompts.append(prompt)
        assert options == ["yes", "no"]
        return [0.8, 0.2] if "Proposed answer: 391" in prompt else [0.3, 0.7]

    judge = ScriptedModel([], name="judge", kind="local", scores=scores)
    score = get_scorer("judge", judge=judge)
    assert score(ITEM, "391") == 1.0 and score(ITEM, "421") == 0.0
    assert "Question: What is 17 * 23?" in prompts[0] and "Reference answer: 391" in prompts[0]
    strict = judge_scorer(judge, threshold=0.9)
    assert strict(ITEM, "391") == 0.0


def test_the_judge_needs_a_model_with_score() -> None:
    with pytest.raises(UserError, match="needs a model"):
        get_scorer("judge")
    with pytest.raises(UserError, match="score"):
        judge_scorer(object())


def test_an_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(UserError) as error:
        get_scorer("bleu")
    assert error.value.hint == f"use one of {', '.join(SCORERS)}"
    assert {"exact", "contains", "numeric", "judge", "humaneval", "bfcl"} == set(SCORERS)


def test_a_dataset_specific_metric_refuses_other_datasets() -> None:
    from collab.evaluation.builtin_qa import builtin_qa

    check_fits("contains", builtin_qa())
    with pytest.raises(UserError) as error:
        check_fits("humaneval", builtin_qa())
    assert "needs items with prompt, test, entry_point" in error.value.message
    assert error.value.hint.startswith("use --metric contains")
