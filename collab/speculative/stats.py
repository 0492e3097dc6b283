"""A completion from a speculative model, with what speculation did (``SpeculationStats``,
defined in ``collab.types`` so the ledger can record it)."""

from __future__ import annotations

from collab.types import Completion, SpeculationStats

__all__ = ["SpeculationStats", "SpeculativeCompletion"]


class SpeculativeCompletion(Completion):
    """A ``Completion`` from a speculative ``LocalModel``, with what speculation did."""

    speculation: SpeculationStats | None = None
