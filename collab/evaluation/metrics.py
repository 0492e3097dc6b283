"""Metrics: does an answer match its reference? Each returns a score in [0, 1]."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "METRICS",
    "Metric",
    "contains",
    "exact_match",
    "get_metric",
    "normalize",
    "numeric_match",
]

Metric = Callable[[str, str], float]
"""``(answer, reference) -> score`` in [0, 1] (1: right)."""

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, whitespace collapsed, articles dropped."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^\w\s]", " ", text)
    words = [w for w in text.split() if w not in {"a", "an", "the"}]
    return " ".join(words)


def exact_match(answer: str, reference: str) -> float:
    """1 when the normalized answer equals the normalized reference."""
    return float(normalize(answer) == normalize(reference))


def contains(answer: str, reference: str) -> float:
    """1 when the normalized reference appears in the normalized answer as whole words."""
    ref = normalize(reference)
    return float(bool(ref) and f" {ref} " in f" {normalize(answer)} ")


def numeric_match(answer: str, reference: str, *, rel_tol: float = 1e-6) -> float:
    """1 when the last number in the answer equals the reference number."""
    found = _NUMBER.findall(answer.replace(",", ""))
    want = _NUMBER.findall(reference.replace(",", ""))
    if not found or not want:
        return 0.0
    got, expected = float(found[-1]), float(want[-1])
    return float(abs(got - expected) <= rel_tol * max(1.0, abs(expected)))


METRICS: dict[str, Metric] = {
    "exact": exact_match,
    "contains": contains,
    "numeric": numeric_match,
}


def get_metric(metric: str | Metric) -> Metric:
    """A metric by name ("exact", "contains", "numeric") or the callable itself."""
    if callable(metric):
        return metric
    from collab.errors import UserError

    if metric not in METRICS:
        raise UserError(
            f"unknown metric {metric!r}", hint=f"use one of {', '.join(METRICS)} or a function"
        )
    return METRICS[metric]
