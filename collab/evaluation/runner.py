"""Running a system over a dataset: per-item results, cost-quality rows, the Pareto frontier.

For a ``TwoWaySystem`` each item is answered once per side (cheap, with its confidence, and
expensive; a system that decides first, a router, also pays its decision once); the LLM-only
and SLM-only counterfactuals and every threshold of the sweep
(``collab.evaluation.calibration.sweep``) then follow without calling a model again. A
``OneWaySystem`` gives one row, after a row per baseline (its counterfactuals). Every row says
accuracy, remote US dollars, local tokens and latency (means per item) and the share escalated;
rows on the Pareto frontier of cost and accuracy are marked, and so is the threshold
``calibrate`` would choose.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.ledger import Ledger
from collab.errors import (
    CollabError,
    MissingAPIKeyError,
    ServerStartError,
    ServerUnreachableError,
    UserError,
)
from collab.evaluation.calibration import SweepItem, choose, held_out_thresholds, sweep
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.frontier import pareto_front
from collab.evaluation.scoring import Scorer
from collab.evaluation.systems import Answered, OneWaySystem, System, TwoWaySystem

__all__ = [
    "HELD_OUT_MIN_ITEMS",
    "MAX_SWEEP_ROWS",
    "EvalReport",
    "ItemResult",
    "Row",
    "Side",
    "evaluate",
]

MAX_SWEEP_ROWS = 8
"""Threshold rows in the table (the plot shows every threshold)."""
HELD_OUT_MIN_ITEMS = 10
"""Items a two-way system needs for its held-out row (two halves of at least 5)."""

_FATAL = (ServerUnreachableError, ServerStartError, MissingAPIKeyError)
"""Errors that would fail every item the same way: stop instead of recording each."""

Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each item."""


class Side(BaseModel):
    """One answer to one item, scored, with what it cost."""

    model_config = ConfigDict(frozen=True)

    answer: str
    score: float
    remote_usd: float = 0.0
    """Known cost of the remote calls, US dollars."""
    remote_tokens: int = 0
    """Prompt and completion tokens of the remote calls."""
    local_tokens: int = 0
    """Prompt and completion tokens of the local calls."""
    latency_s: float = 0.0
    """Wall time of producing the answer."""
    error: str | None = None
    """The error that stopped it (``answer`` is empty) or its scoring (``score`` is 0)."""
    escalated: bool | None = None
    """Whether the answer is the remote LLM's, as the result says (None: no result)."""


class ItemResult(BaseModel):
    """What the system did with one item."""

    model_config = ConfigDict(frozen=True)

    id: str
    reference: str
    confidence: float | None = None
    """Two-way systems: the confidence the threshold is compared with."""
    decision: Side | None = None
    """Two-way systems that decide before answering (a router): what deciding cost (no
    answer, no score), paid at every threshold."""
    cheap: Side | None = None
    expensive: Side | None = None
    outcome: Side | None = None
    """One-way systems: the answer."""
    escalated: bool | None = None
    """One-way systems: whether the answer is the remote LLM's, as the result says."""
    baselines: dict[str, Side] = Field(default_factory=dict)
    """One-way systems: each baseline's answer, by its label."""


class Row(BaseModel):
    """One way of answering the whole dataset: a counterfactual, a threshold, or the system."""

    model_config = ConfigDict(frozen=True)

    label: str
    threshold: float | None = None
    """Escalate below this confidence (threshold rows only)."""
    accuracy: float
    remote_usd: float
    """Mean remote US dollars per item."""
    remote_tokens: float = 0.0
    """Mean remote (LLM) tokens per item, prompt and completion."""
    local_tokens: float
    """Mean local tokens per item."""
    latency_s: float
    """Mean seconds per item."""
    escalation_rate: float
    pareto: bool = False
    """On the Pareto frontier of (remote cost, accuracy) among the report's rows and curve."""
    calibrated: bool = False
    """The threshold ``calibrate`` chooses (cheapest keeping ``keep`` of LLM-only accuracy)."""
    held_out: bool = False
    """Each item decided at the threshold chosen on the other half of the items
    (``held_out_thresholds``): what calibrating on other questions gives."""


class EvalReport(BaseModel):
    """Everything one evaluation found; ``model_dump_json()`` is the JSON results file."""

    system: str
    dataset: str
    metric: str
    n_items: int
    slm: str | None = None
    llm: str | None = None
    keep: float | None = None
    """Two-way systems: the share of LLM-only accuracy the calibrated threshold keeps."""
    rows: list[Row]
    """The table: counterfactuals, then the system (at most ``MAX_SWEEP_ROWS`` thresholds of a
    two-way system, or a one-way system's row)."""
    curve: list[Row]
    """Every threshold of the sweep (two-way systems), for the plot."""
    items: list[ItemResult]
    spent_remote_usd: float
    """What this evaluation paid for remote calls (each side and baseline once per item)."""
    errors: int
    elapsed_s: float


def evaluate(
    system: System,
    dataset: Dataset,
    *,
    scorer: Scorer,
    metric: str = "",
    slm: str | None = None,
    llm: str | None = None,
    keep: float = 0.95,
    max_rows: int = MAX_SWEEP_ROWS,
    on_item: Progress | None = None,
) -> EvalReport:
    """Run ``system`` on every item of ``dataset`` and report cost and quality.

    Scoring (``scorer``) happens outside the system's calls, so a judge metric's calls are not
    charged to the system. An item whose side fails with a ``CollabError`` scores 0 and keeps
    the error; errors that would fail every item (no server, no key) stop the evaluation.
    """
    if not 0.0 < keep <= 1.5:  # checked now, not after every item was answered
        raise UserError(f"keep must be a share of the LLM-only accuracy in (0, 1.5], got {keep}")
    started = time.perf_counter()
    items: list[ItemResult] = []
    for done, item in enumerate(dataset.items, start=1):
        if isinstance(system, TwoWaySystem):
            items.append(_two_way_item(system, item, scorer))
        else:
            items.append(_one_way_item(system, item, scorer))
        if on_item is not None:
            on_item(done, len(dataset.items))
    sides = [
        s
        for i in items
        for s in (i.decision, i.cheap, i.expensive, i.outcome, *i.baselines.values())
        if s is not None
    ]
    if isinstance(system, TwoWaySystem):
        rows, curve = _two_way_rows(system, items, keep=keep, max_rows=max_rows)
    else:
        rows, curve = _one_way_rows(system, items), []
    return EvalReport(
        system=system.name,
        dataset=dataset.name,
        metric=metric,
        n_items=len(items),
        slm=slm,
        llm=llm,
        keep=keep if isinstance(system, TwoWaySystem) else None,
        rows=rows,
        curve=curve,
        items=items,
        spent_remote_usd=sum(s.remote_usd for s in sides),
        errors=sum(s.error is not None for s in sides),
        elapsed_s=time.perf_counter() - started,
    )


# -- per item --------------------------------------------------------------------------------

R = TypeVar("R")


def _timed(call: Callable[[], R]) -> tuple[R | None, float, str | None]:
    started = time.perf_counter()
    try:
        result = call()
    except _FATAL:
        raise
    except CollabError as exc:
        return None, time.perf_counter() - started, f"{type(exc).__name__}: {exc.message}"
    return result, time.perf_counter() - started, None


def _side(
    result: Answered | None, latency: float, error: str | None, item: Item, scorer: Scorer
) -> Side:
    if result is None:
        return Side(answer="", score=0.0, latency_s=latency, error=error)
    remote_usd, remote_tokens, local_tokens = _spend(result.ledger)
    score, scoring_error = _score(scorer, item, result.answer)
    # Replayed calls (collab eval --record) take no time but report the time they took.
    latency = max(latency, sum(r.latency_s for r in result.ledger.records))
    return Side(
        answer=result.answer,
        score=score,
        remote_usd=remote_usd,
        remote_tokens=remote_tokens,
        local_tokens=local_tokens,
        latency_s=latency,
        error=scoring_error,
        escalated=result.escalated,
    )


def _decision_side(result: Answered | None, latency: float, error: str | None) -> Side:
    """What deciding cost: no answer to score."""
    remote_usd, remote_tokens, local_tokens = (
        _spend(result.ledger) if result is not None else (0.0, 0, 0)
    )
    return Side(
        answer="",
        score=0.0,
        remote_usd=remote_usd,
        remote_tokens=remote_tokens,
        local_tokens=local_tokens,
        latency_s=latency,
        error=error,
    )


def _answer_side(answer: Callable[[str], Answered], item: Item, scorer: Scorer) -> Side:
    result, seconds, error = _timed(lambda: answer(item.input))
    return _side(result, seconds, error, item, scorer)


def _score(scorer: Scorer, item: Item, answer: str) -> tuple[float, str | None]:
    """The answer's score; 0 with the error when scoring fails (e.g. a judge's prompt is too
    long for its context)."""
    try:
        return scorer(item, answer), None
    except _FATAL:
        raise
    except CollabError as exc:
        return 0.0, f"scoring: {type(exc).__name__}: {exc.message}"


def _spend(ledger: Ledger) -> tuple[float, int, int]:
    """Remote US dollars, remote tokens and local tokens of a ledger's calls."""
    remote = sum(r.cost_usd or 0.0 for r in ledger.records if r.kind == "remote")
    remote_tokens = sum(
        r.prompt_tokens + r.completion_tokens for r in ledger.records if r.kind == "remote"
    )
    local = sum(r.prompt_tokens + r.completion_tokens for r in ledger.records if r.kind == "local")
    return remote, remote_tokens, local


def _two_way_item(system: TwoWaySystem, item: Item, scorer: Scorer) -> ItemResult:
    decide = system.decide
    decided: Answered | None = None
    decision: Side | None = None
    if decide is not None:
        decided, decide_s, decide_error = _timed(lambda: decide(item))
        decision = _decision_side(decided, decide_s, decide_error)
    cheap, cheap_s, cheap_error = _timed(lambda: system.cheap(item))
    known = decided if decide is not None else cheap
    # A failed decision (or cheap side) has no confidence: every threshold above 0 escalates.
    basis = known or _NoDecision()
    expensive, expensive_s, expensive_error = _timed(lambda: system.expensive(item, basis))
    return ItemResult(
        id=item.id,
        reference=item.reference,
        confidence=float(basis.details.get("confidence", 0.0)),
        decision=decision,
        cheap=_side(cheap, cheap_s, cheap_error, item, scorer),
        expensive=_side(expensive, expensive_s, expensive_error, item, scorer),
    )


@dataclass(frozen=True)
class _NoDecision:
    """The basis of an item whose decision (or cheap side) failed: confidence 0."""

    answer: str = ""
    escalated: bool = False
    details: dict[str, Any] = field(default_factory=lambda: {"confidence": 0.0})
    ledger: Ledger = field(default_factory=Ledger)


def _one_way_item(system: OneWaySystem, item: Item, scorer: Scorer) -> ItemResult:
    result, seconds, error = _timed(lambda: system.answer(item.input))
    return ItemResult(
        id=item.id,
        reference=item.reference,
        outcome=_side(result, seconds, error, item, scorer),
        escalated=bool(result.escalated) if result is not None else None,
        baselines={
            label: _answer_side(answer, item, scorer) for label, answer in system.baselines.items()
        },
    )


# -- rows ------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


_Paid = tuple[Sequence[Side], bool]
"""What one item paid for on one row (the last side's answer counts), and whether it escalated."""


def _row_of(label: str, paid: Sequence[_Paid], **fields: Any) -> Row:
    """A row from what each item paid for."""
    return Row(
        label=label,
        accuracy=_mean([sides[-1].score for sides, _ in paid]),
        remote_usd=_mean([sum(s.remote_usd for s in sides) for sides, _ in paid]),
        remote_tokens=_mean([sum(s.remote_tokens for s in sides) for sides, _ in paid]),
        local_tokens=_mean([sum(s.local_tokens for s in sides) for sides, _ in paid]),
        latency_s=_mean([sum(s.latency_s for s in sides) for sides, _ in paid]),
        escalation_rate=_mean([float(escalated) for _, escalated in paid]),
        **fields,
    )


class _TwoWays(NamedTuple):
    """An item's sides on a two-way system."""

    decision: Side | None
    cheap: Side
    expensive: Side
    confidence: float

    def paid(self, *, escalated: bool, replaces: bool) -> _Paid:
        """What the item pays at a threshold: the decision, then the cheap answer, the
        expensive one, or (escalated on a system where it adds) both."""
        decided = [self.decision] if self.decision is not None else []
        if not escalated:
            return [*decided, self.cheap], False
        if replaces:
            return [*decided, self.expensive], True
        return [*decided, self.cheap, self.expensive], True


def _two_way_rows(
    system: TwoWaySystem, items: list[ItemResult], *, keep: float, max_rows: int
) -> tuple[list[Row], list[Row]]:
    both = [
        _TwoWays(i.decision, i.cheap, i.expensive, i.confidence or 0.0)
        for i in items
        if i.cheap is not None and i.expensive is not None
    ]
    llm_only = _row_of(system.expensive_label, [([b.expensive], True) for b in both])
    slm_only = _row_of(system.cheap_label, [([b.cheap], False) for b in both])
    sweep_items = [
        SweepItem(
            confidence=b.confidence,
            confidence_usd=b.decision.remote_usd if b.decision is not None else 0.0,
            cheap_score=b.cheap.score,
            cheap_usd=b.cheap.remote_usd,
            expensive_score=b.expensive.score,
            expensive_usd=b.expensive.remote_usd,
        )
        for b in both
    ]
    escalation = system.escalation
    chosen = choose(sweep_items, keep=keep, escalation=escalation).threshold
    replaces = escalation == "replaces"
    curve = [
        _row_of(
            system.name,
            [b.paid(escalated=b.confidence < point.threshold, replaces=replaces) for b in both],
            threshold=point.threshold,
            calibrated=point.threshold == chosen,
        )
        for point in sweep(sweep_items, escalation=escalation)
    ]
    marked = _mark_pareto([llm_only, slm_only, *curve])
    counterfactuals, curve = marked[:2], marked[2:]
    rows = [*counterfactuals, *_subsample(curve, max_rows)]
    if len(both) >= HELD_OUT_MIN_ITEMS:
        thresholds = held_out_thresholds(sweep_items, keep=keep, escalation=escalation)
        decided = zip(both, thresholds, strict=True)
        rows.append(
            _row_of(
                system.name,
                [b.paid(escalated=b.confidence < t, replaces=replaces) for b, t in decided],
                held_out=True,
            )
        )
    return rows, curve


def _one_way_rows(system: OneWaySystem, items: list[ItemResult]) -> list[Row]:
    """A row per baseline, then the system's."""
    baselines = [
        _row_of(label, [([s], bool(s.escalated)) for i in items if (s := i.baselines.get(label))])
        for label in system.baselines
    ]
    outcomes = [([i.outcome], bool(i.escalated)) for i in items if i.outcome is not None]
    return _mark_pareto([*baselines, _row_of(system.name, outcomes)])


def _mark_pareto(rows: list[Row]) -> list[Row]:
    front = set(pareto_front([(r.remote_usd, r.accuracy) for r in rows]))
    return [r.model_copy(update={"pareto": i in front}) for i, r in enumerate(rows)]


def _subsample(curve: list[Row], max_rows: int) -> list[Row]:
    """At most ``max_rows`` thresholds: distinct outcomes only, keeping both ends, the
    calibrated one and the Pareto ones first, then evenly spaced others."""
    distinct: list[Row] = []
    for row in curve:
        outcome = (row.accuracy, row.remote_usd, row.escalation_rate)
        if not distinct or outcome != (
            distinct[-1].accuracy, distinct[-1].remote_usd, distinct[-1].escalation_rate
        ):  # fmt: skip
            distinct.append(row)
        elif row.calibrated:
            distinct[-1] = row
    if len(distinct) <= max_rows:
        return distinct
    last = len(distinct) - 1
    wanted = [0, last, *(i for i, r in enumerate(distinct) if r.calibrated)]
    wanted += [i for i, r in enumerate(distinct) if r.pareto]
    wanted += [round(k * last / (max_rows - 1)) for k in range(max_rows)]
    kept: list[int] = []
    for index in wanted:
        if index not in kept and len(kept) < max_rows:
            kept.append(index)
    return [distinct[i] for i in sorted(kept)]
