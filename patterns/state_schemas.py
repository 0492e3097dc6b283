"""The input and output schemas the patterns' graphs declare (``StateGraph(input_schema=,
output_schema=)``), so ``graph.get_input_jsonschema()`` and LangGraph's server show what a
pattern takes and gives.

``typing_extensions.TypedDict``, not ``typing.TypedDict``: pydantic builds the JSON schemas
and refuses the latter on Python < 3.12.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from collab.graph import LedgerState

__all__ = ["AnswerOutput", "QuestionInput"]


class QuestionInput(TypedDict):
    """What most patterns take: one question."""

    question: str


class AnswerOutput(LedgerState, total=False):
    """What every pattern gives: the answer, who gave it, the verdicts, the details and the
    records of the calls it made (``collab_calls``; ``collab.graph.ledger_of`` reads them)."""

    answer: str
    answered_by: str
    escalated: bool
    verdicts: list[dict[str, Any]]
    details: dict[str, Any]
