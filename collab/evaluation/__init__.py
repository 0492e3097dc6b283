"""Evaluating patterns: datasets, scorers, threshold sweeps, cost-quality reports.

    from collab.evaluation import evaluate, get_pattern_eval, get_scorer, load_dataset

    dataset = load_dataset("humaneval", limit=10)
    system = get_pattern_eval("cascade").factory(EvalSetup(slm=slm, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer(dataset.metric))

Modules load on first use, so ``import collab.patterns.cascade`` (which needs only ``metrics`` and
``calibration``) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collab.evaluation.calibration import (
        Calibration,
        Escalation,
        SweepItem,
        SweepPoint,
        choose,
        sweep,
    )
    from collab.evaluation.datasets import DATASETS, Dataset, Item, load_dataset, load_jsonl, select
    from collab.evaluation.frontier import pareto_front
    from collab.evaluation.plot import plot_report
    from collab.evaluation.report import report_table, save_report
    from collab.evaluation.runner import EvalReport, ItemResult, Row, Side, evaluate
    from collab.evaluation.sandbox import Execution, run_python
    from collab.evaluation.scoring import SCORERS, Scorer, get_scorer
    from collab.evaluation.systems import (
        EvalSetup,
        OneWaySystem,
        PatternEval,
        System,
        TwoWaySystem,
        get_pattern_eval,
        pattern_evals,
        register,
    )

_LAZY: dict[str, str] = {
    "Calibration": "calibration",
    "DATASETS": "datasets",
    "Dataset": "datasets",
    "EvalReport": "runner",
    "EvalSetup": "systems",
    "Escalation": "calibration",
    "Execution": "sandbox",
    "Item": "datasets",
    "ItemResult": "runner",
    "OneWaySystem": "systems",
    "PatternEval": "systems",
    "Row": "runner",
    "SCORERS": "scoring",
    "Scorer": "scoring",
    "Side": "runner",
    "SweepItem": "calibration",
    "SweepPoint": "calibration",
    "System": "systems",
    "TwoWaySystem": "systems",
    "choose": "calibration",
    "evaluate": "runner",
    "get_pattern_eval": "systems",
    "get_scorer": "scoring",
    "load_dataset": "datasets",
    "load_jsonl": "datasets",
    "pareto_front": "frontier",
    "pattern_evals": "systems",
    "plot_report": "plot",
    "register": "systems",
    "report_table": "report",
    "run_python": "sandbox",
    "save_report": "report",
    "select": "datasets",
    "sweep": "calibration",
}

__all__ = [
    "DATASETS",
    "SCORERS",
    "Calibration",
    "Dataset",
    "Escalation",
    "EvalReport",
    "EvalSetup",
    "Execution",
    "Item",
    "ItemResult",
    "OneWaySystem",
    "PatternEval",
    "Row",
    "Scorer",
    "Side",
    "SweepItem",
    "SweepPoint",
    "System",
    "TwoWaySystem",
    "choose",
    "evaluate",
    "get_pattern_eval",
    "get_scorer",
    "load_dataset",
    "load_jsonl",
    "pareto_front",
    "pattern_evals",
    "plot_report",
    "register",
    "report_table",
    "run_python",
    "save_report",
    "select",
    "sweep",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'collab.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"collab.evaluation.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
