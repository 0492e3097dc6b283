"""BFCL (Berkeley Function Calling Leaderboard): pick the right function and its arguments.

The ``simple_python`` (400 entries, one function offered), ``multiple`` (200, two to four
offered) and ``parallel`` (200, one function offered, called two to eight times) categories
come from the ``bfcl-eval`` wheel on PyPI (``bfcl_eval/data/`` and
``bfcl_eval/data/possible_answer/``), fetched once into ``$COLLAB_HOME/datasets``. A model sees
the function docs as JSON and the question, and answers with one call (a ``parallel`` one with a
list of calls), as BFCL's prompting mode asks; ``ast_match`` scores it with the AST checker
(``collab.evaluation.bfcl_checker``). ``collab.evaluation.bfcl_tools`` offers the functions as
tools instead, as BFCL's function-calling mode does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collab.errors import UserError
from collab.evaluation.bfcl_checker import check_calls, parse_calls
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.wheel_data import WheelData, fetch

__all__ = [
    "BFCL",
    "CATEGORIES",
    "INSTRUCTIONS",
    "ast_match",
    "format_question",
    "load_bfcl",
    "question_of",
    "read_category",
]

CATEGORIES = {"simple_python": "simple", "multiple": "multiple", "parallel": "parallel"}
"""BFCL file categories and the checker each uses."""


def _members(category: str) -> tuple[str, str]:
    name = f"BFCL_v4_{category}.json"
    return f"bfcl_eval/data/{name}", f"bfcl_eval/data/possible_answer/{name}"


BFCL = WheelData(
    "bfcl-eval", "2026.3.23", tuple(m for category in CATEGORIES for m in _members(category))
)

INSTRUCTIONS = (
    "You are an expert in composing functions. You are given a question and a set of possible "
    "functions. Based on the question, make the one function call that achieves the purpose. "
    "Reply with only the call, in the format func_name(param_name1=value1, "
    "param_name2=value2), with Python literals as values and no other text."
)
PARALLEL_INSTRUCTIONS = (
    "You are an expert in composing functions. You are given a question and a set of possible "
    "functions. Based on the question, make the function calls that achieve the purpose. Reply "
    "with only the calls, as a Python list [func_name(param_name1=value1), "
    "func_name(param_name1=value2)], with Python literals as values and no other text."
)
MAX_TOKENS = 128


def format_question(question: str, functions: list[dict[str, Any]]) -> str:
    """The user message: the function docs as JSON, then the question."""
    return f"Functions (JSON):\n{json.dumps(functions)}\n\nQuestion: {question}"


def load_bfcl(category: str) -> Dataset:
    """One category (``simple_python``, ``multiple`` or ``parallel``); each item's ``extra`` has
    ``functions``, ``ground_truth`` and ``category`` (the checker's)."""
    items = []
    for entry, ground_truth in read_category(category):
        question = question_of(entry)
        items.append(
            Item(
                id=entry["id"],
                input=format_question(question, entry["function"]),
                reference=json.dumps(ground_truth),
                extra={
                    "functions": entry["function"],
                    "ground_truth": ground_truth,
                    "category": CATEGORIES[category],
                },
            )
        )
    return Dataset(
        name=f"bfcl-{category.split('_')[0]}",
        items=tuple(items),
        instructions=PARALLEL_INSTRUCTIONS if category == "parallel" else INSTRUCTIONS,
        max_tokens=4 * MAX_TOKENS if category == "parallel" else MAX_TOKENS,
        metric="bfcl",
    )


def ast_match(item: Item, answer: str) -> float:
    """1.0 when ``answer`` holds the call BFCL's AST checker accepts for ``item``, else 0.0."""
    try:
        calls = parse_calls(answer)
    except ValueError:
        return 0.0
    extra = item.extra
    check = check_calls(
        extra["functions"], calls, extra["ground_truth"], category=extra["category"]
    )
    return float(check.valid)


def read_category(category: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """A category's raw entries (``id``, ``question``, ``function``), each with its ground
    truth (the acceptable calls), fetched from the wheel on first use."""
    if category not in CATEGORIES:
        raise UserError(
            f"unknown BFCL category {category!r}", hint=f"use one of {', '.join(CATEGORIES)}"
        )
    folder = fetch(BFCL)
    questions_path, answers_path = (folder / m for m in _members(category))
    answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(answers_path)}
    return [(entry, answers[entry["id"]]) for entry in _read_jsonl(questions_path)]


def question_of(entry: dict[str, Any]) -> str:
    """An entry's question: its first turn's user messages."""
    return "\n".join(m["content"] for m in entry["question"][0] if m["role"] == "user")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
