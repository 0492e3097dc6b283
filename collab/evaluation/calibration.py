"""Choosing a threshold from labelled examples: the cost-quality sweep of a two-way decision.

Cascades and routers decide, per question, between a cheap answer (the SLM's) and an expensive
one (the LLM's) by comparing a confidence with a threshold. Given, for each labelled example,
the confidence, whether each answer is right and what each costs, every threshold's accuracy
and cost follow without calling any model again: ``sweep`` lists them, ``choose`` picks the
cheapest that keeps a target share of the LLM-only accuracy.

How an escalation is paid (``Escalation``) depends on when the decision is made: a cascade
decides after the SLM has answered, so escalating *adds* the LLM's answer to the SLM's; a
router decides before anyone answers, so escalating *replaces* the SLM's answer with the LLM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from collab.errors import UserError

__all__ = [
    "Calibration",
    "Escalation",
    "SweepItem",
    "SweepPoint",
    "choose",
    "held_out_thresholds",
    "sweep",
]

Escalation = Literal["adds", "replaces"]
"""What an escalated example pays besides ``confidence_usd``: "adds" (a cascade) the cheap
answer and the expensive one; "replaces" (a router) the expensive answer alone."""


class SweepItem(BaseModel):
    """One labelled example, both ways."""

    model_config = ConfigDict(frozen=True)

    confidence: float
    """The decision's confidence that the cheap answer is right (escalate below threshold)."""
    cheap_score: float
    """Metric of the cheap (SLM) answer, 0..1."""
    cheap_usd: float
    """Cost of the cheap answer; in "adds" mode also whatever else the cheap side pays (a
    cascade's judge): it is paid whatever the decision."""
    expensive_score: float
    """Metric of the expensive (LLM) answer, 0..1."""
    expensive_usd: float
    """Cost of the expensive answer (paid only when escalated)."""
    confidence_usd: float = 0.0
    """Cost of the confidence itself (a router's routing), paid whatever the decision; not
    part of the LLM-only and SLM-only counterfactuals."""


class SweepPoint(BaseModel):
    """What one threshold gives over the examples."""

    model_config = ConfigDict(frozen=True)

    threshold: float
    accuracy: float
    cost_usd: float
    """Mean cost per example."""
    escalation_rate: float


class Calibration(BaseModel):
    """The chosen threshold, what to expect at it, and the whole curve."""

    threshold: float
    expected_accuracy: float
    expected_cost_usd: float
    """Mean cost per question at the threshold."""
    escalation_rate: float
    llm_only_accuracy: float
    llm_only_cost_usd: float
    slm_only_accuracy: float
    slm_only_cost_usd: float
    target_accuracy: float
    met: bool
    """Whether some threshold reached ``target_accuracy`` (else: always escalate)."""
    curve: list[SweepPoint]
    escalation: Escalation = "adds"
    """How the curve's costs count an escalation."""


def sweep(items: Sequence[SweepItem], *, escalation: Escalation = "adds") -> list[SweepPoint]:
    """Accuracy, cost and escalation rate at every threshold that changes a decision.

    Thresholds run from 0 (never escalate) up to just above the largest confidence (always
    escalate); an example escalates when its confidence is below the threshold.
    """
    if not items:
        raise UserError("calibration needs at least one labelled example")
    if escalation not in ("adds", "replaces"):
        raise UserError(f"escalation must be 'adds' or 'replaces', got {escalation!r}")
    n = len(items)
    confidences = sorted({i.confidence for i in items})
    thresholds = [0.0, *(c for c in confidences if c > 0.0), _above(confidences[-1])]
    points = []
    for t in thresholds:
        escalated = [i.confidence < t for i in items]
        score = sum(
            i.expensive_score if e else i.cheap_score for i, e in zip(items, escalated, strict=True)
        )
        cost = sum(_cost(i, e, escalation) for i, e in zip(items, escalated, strict=True))
        points.append(
            SweepPoint(
                threshold=t,
                accuracy=score / n,
                cost_usd=cost / n,
                escalation_rate=sum(escalated) / n,
            )
        )
    return points


def choose(
    items: Sequence[SweepItem], *, keep: float = 0.95, escalation: Escalation = "adds"
) -> Calibration:
    """The cheapest threshold whose accuracy is at least ``keep`` times the LLM-only accuracy.

    LLM-only pays only the expensive answers; SLM-only only the cheap ones (neither pays
    ``confidence_usd``). When no threshold reaches the target, the result says so
    (``met=False``) and always escalates.
    """
    if not 0.0 < keep <= 1.5:
        raise UserError(f"keep must be a share of the LLM accuracy in (0, 1.5], got {keep}")
    points = sweep(items, escalation=escalation)
    n = len(items)
    llm_accuracy = sum(i.expensive_score for i in items) / n
    target = keep * llm_accuracy
    fitting = [p for p in points if p.accuracy >= target - 1e-12]
    best = min(fitting, key=lambda p: (p.cost_usd, -p.accuracy)) if fitting else points[-1]
    return Calibration(
        threshold=best.threshold,
        expected_accuracy=best.accuracy,
        expected_cost_usd=best.cost_usd,
        escalation_rate=best.escalation_rate,
        llm_only_accuracy=llm_accuracy,
        llm_only_cost_usd=sum(i.expensive_usd for i in items) / n,
        slm_only_accuracy=sum(i.cheap_score for i in items) / n,
        slm_only_cost_usd=sum(i.cheap_usd for i in items) / n,
        target_accuracy=target,
        met=bool(fitting),
        curve=points,
        escalation=escalation,
    )


def held_out_thresholds(
    items: Sequence[SweepItem],
    *,
    keep: float = 0.95,
    escalation: Escalation = "adds",
    folds: int = 2,
) -> list[float]:
    """Each example's threshold as ``choose`` picks it from the other folds only (example
    ``i`` is in fold ``i % folds``): applying them scores a threshold on examples it was not
    chosen on, an honest estimate where ``choose`` on all of them is an optimistic one."""
    if not 2 <= folds <= len(items):
        raise UserError(
            f"held-out thresholds need 2 <= folds <= {len(items)} examples, got {folds}",
            hint="use more examples or fewer folds",
        )
    chosen = [
        choose(
            [item for i, item in enumerate(items) if i % folds != fold],
            keep=keep,
            escalation=escalation,
        ).threshold
        for fold in range(folds)
    ]
    return [chosen[i % folds] for i in range(len(items))]


def _cost(item: SweepItem, escalated: bool, escalation: Escalation) -> float:
    if not escalated:
        return item.confidence_usd + item.cheap_usd
    match escalation:
        case "adds":
            return item.confidence_usd + item.cheap_usd + item.expensive_usd
        case "replaces":
            return item.confidence_usd + item.expensive_usd
        case _:
            assert_never(escalation)


def _above(confidence: float) -> float:
    """A threshold just above ``confidence``: every example escalates."""
    return confidence + max(1e-9, abs(confidence) * 1e-9)
