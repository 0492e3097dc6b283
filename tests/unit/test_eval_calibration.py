"""The threshold sweep: what each threshold costs when escalating adds or replaces an answer."""

from __future__ import annotations

import collab.patterns.calibration
import pytest

from collab.errors import UserError
from collab.evaluation import calibration
from collab.evaluation.calibration import SweepItem, choose, sweep

# Two examples: the cheap answer is right on the confident one only.
ITEMS = [
    SweepItem(
        confidence=0.9,
        confidence_usd=1.0,
        cheap_score=1.0,
        cheap_usd=10.0,
        expensive_score=1.0,
        expensive_usd=100.0,
    ),
    SweepItem(
        confidence=0.2,
        confidence_usd=1.0,
        cheap_score=0.0,
        cheap_usd=10.0,
        expensive_score=1.0,
        expensive_usd=100.0,
    ),
]


def costs(**escalation: calibration.Escalation) -> list[tuple[float, float, float, float]]:
    """(threshold, escalation rate, accuracy, mean cost) at each threshold."""
    return [
        (p.threshold, p.escalation_rate, p.accuracy, p.cost_usd) for p in sweep(ITEMS, **escalation)
    ]


def test_escalating_adds_the_expensive_answer_to_the_cheap_one_by_default() -> None:
    assert costs() == costs(escalation="adds")
    assert costs()[1:] == [
        (0.2, 0.0, 0.5, 11.0),  # below 0.2: nothing; each pays confidence and cheap answer
        (0.9, 0.5, 1.0, 61.0),  # (11 + 111) / 2
        (pytest.approx(0.9), 1.0, 1.0, 111.0),  # just above 0.9: both escalate
    ]


def test_escalating_replaces_the_cheap_answer_when_the_decision_comes_first() -> None:
    assert costs(escalation="replaces")[1:] == [
        (0.2, 0.0, 0.5, 11.0),
        (0.9, 0.5, 1.0, 56.0),  # (11 + 101) / 2: the escalated item never paid its cheap answer
        (pytest.approx(0.9), 1.0, 1.0, 101.0),
    ]


def test_the_counterfactuals_leave_the_confidence_out() -> None:
    chosen = choose(ITEMS, keep=1.0, escalation="replaces")
    assert (chosen.llm_only_cost_usd, chosen.slm_only_cost_usd) == (100.0, 10.0)
    assert (chosen.llm_only_accuracy, chosen.slm_only_accuracy) == (1.0, 0.5)
    assert (chosen.escalation_rate, chosen.expected_cost_usd) == (0.5, 56.0)
    assert chosen.escalation == "replaces" and choose(ITEMS).escalation == "adds"


def test_an_unknown_escalation_is_refused() -> None:
    with pytest.raises(UserError, match="escalation must be"):
        sweep(ITEMS, escalation="doubles")  # type: ignore[arg-type]


def test_the_old_home_re_exports_the_sweep() -> None:
    for name in calibration.__all__:
        assert getattr(collab.patterns.calibration, name) is getattr(calibration, name)


def labelled(confidence: float, cheap_right: bool) -> SweepItem:
    return SweepItem(
        confidence=confidence,
        cheap_score=float(cheap_right),
        cheap_usd=0.0,
        expensive_score=1.0,
        expensive_usd=1.0,
    )


def test_held_out_thresholds_come_from_the_other_fold_only() -> None:
    # Fold 0 (even indexes): the cheap answer is wrong below 0.5. Fold 1 (odd): below 0.9.
    items = [
        labelled(0.3, False),
        labelled(0.3, False),
        labelled(0.7, True),
        labelled(0.7, False),
        labelled(0.95, True),
        labelled(0.95, True),
    ]
    thresholds = calibration.held_out_thresholds(items, keep=1.0)
    fold0 = choose(items[1::2], keep=1.0).threshold  # chosen on fold 1, used on fold 0
    fold1 = choose(items[0::2], keep=1.0).threshold
    assert thresholds == [fold0, fold1] * 3
    assert fold0 > 0.7 >= fold1  # each fold gets the other's threshold, not its own
    assert choose(items, keep=1.0).threshold != fold1


@pytest.mark.parametrize("folds", [1, 7])
def test_held_out_thresholds_refuse_folds_the_items_cannot_fill(folds: int) -> None:
    items = [labelled(0.5, True)] * 6
    with pytest.raises(UserError, match="folds"):
        calibration.held_out_thresholds(items, folds=folds)
