"""Scorers: how right is an answer to an item? Text metrics, an SLM judge, code tests, BFCL.

A ``Scorer`` sees the whole ``Item`` (input, reference, extra), so a metric can use more than
the reference: HumanEval runs the item's tests, BFCL checks the item's function docs, the judge
reads the question. ``get_scorer`` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collab.errors import UserError
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.metrics import METRICS, Metric, get_metric

__all__ = [
    "JUDGE_PROMPT",
    "SCORERS",
    "Scorer",
    "check_fits",
    "from_metric",
    "get_scorer",
    "judge_scorer",
]

Scorer = Callable[[Item, str], float]
"""``(item, answer) -> score`` in [0, 1] (1: right)."""

JUDGE_PROMPT = (
    "Question: {question}\nReference answer: {reference}\nProposed answer: {answer}\n"
    "Does the proposed answer agree with the reference answer? Answer yes or no.\nAnswer:"
)

SCORERS: dict[str, str] = {
    "exact": "normalized answer equals the reference",
    "contains": "the reference appears in the answer as whole words",
    "numeric": "the answer's last number equals the reference's",
    "judge": "the SLM says yes, from its logits, to 'does this agree with the reference?'",
    "humaneval": "pass@1: the extracted code passes the problem's tests in a sandbox",
    "bfcl": "BFCL's AST checker: right function, every argument acceptable",
}
"""Scorer names and what they check."""

_NEEDS: dict[str, tuple[str, ...]] = {
    "humaneval": ("prompt", "test", "entry_point"),
    "bfcl": ("functions", "ground_truth", "category"),
}
"""What a dataset's own scorer reads from ``Item.extra``."""


def check_fits(name: str, dataset: Dataset) -> None:
    """``UserError`` when the scorer ``name`` cannot score ``dataset``'s items."""
    missing = [k for k in _NEEDS.get(name, ()) if any(k not in i.extra for i in dataset.items)]
    if missing:
        raise UserError(
            f"metric {name!r} needs items with {', '.join(missing)}; {dataset.name} has none",
            hint=f"use --metric {dataset.metric}, or a dataset made for {name}",
        )


def from_metric(metric: str | Metric) -> Scorer:
    """A scorer comparing the answer with ``item.reference`` by a text metric."""
    compare = get_metric(metric)

    def score(item: Item, answer: str) -> float:
        return compare(answer, item.reference)

    return score


def judge_scorer(model: Any, *, prompt: str = JUDGE_PROMPT, threshold: float = 0.5) -> Scorer:
    """1.0 when ``model.score`` puts at least ``threshold`` on "yes" for ``prompt``.

    ``model`` is a model with ``score(prompt, options)`` (a ``LocalModel``); its calls are not
    part of any system's ledger when scoring runs outside the system's run, as the runner does.
    """
    score_options = getattr(model, "score", None)
    if not callable(score_options):
        raise UserError(
            f"the judge metric needs a model with score(), got {model!r}",
            hint="pass a LocalModel (its logits give the yes/no probability)",
        )

    def score(item: Item, answer: str) -> float:
        text = prompt.format(question=item.input, reference=item.reference, answer=answer)
        yes, _no = score_options(text, ["yes", "no"])
        return float(yes >= threshold)

    return score


def get_scorer(name: str, *, judge: Any = None) -> Scorer:
    """The scorer called ``name`` (``SCORERS``); ``judge`` is the model the judge scorer asks."""
    if name in METRICS:
        return from_metric(name)
    if name == "judge":
        if judge is None:
            raise UserError("the judge metric needs a model", hint="pass judge=a LocalModel")
        return judge_scorer(judge)
    if name == "humaneval":
        from collab.evaluation.humaneval import pass_at_1

        return pass_at_1
    if name == "bfcl":
        from collab.evaluation.bfcl import ast_match

        return ast_match
    raise UserError(f"unknown metric {name!r}", hint=f"use one of {', '.join(SCORERS)}")
