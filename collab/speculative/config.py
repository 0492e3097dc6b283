"""``Speculative``: how a ``LocalModel`` speculates."""

from __future__ import annotations

from typing import NamedTuple

from collab.errors import UserError
from collab.speculative.draft_sources import DraftSource

__all__ = ["Speculative", "resolve"]


class Speculative(NamedTuple):
    """Speculative decoding settings: ``LocalModel(path, speculative=Speculative(...))``.

    ``speculative=True`` is ``Speculative()`` (prompt lookup); a draft source alone is
    ``Speculative(draft=source)``.
    """

    draft: DraftSource | None = None
    """Where drafts come from: ``PromptLookup()`` (the default), ``DraftModel(model)`` (same
    vocabulary), or ``CrossVocabDraft(model)`` (any vocabulary, drafted as text)."""
    max_draft: int = 15
    """Longest draft verified at once (the verification batch is one token more)."""
    adaptive: bool = True
    """Pick each draft's length from the running acceptance rate and the measured cost of
    batch decodes, and draft nothing when it would not pay. False: always verify the longest
    draft on offer (to measure a source)."""
    exact: bool = True
    """Verify only in batch sizes whose logits are bit-identical to one-token decoding on
    this model (probed once per process), so greedy output is the target's, token for token.
    False allows every size up to ``max_draft + 1``: faster on models whose weight kernels
    change with the batch size, at the price of rare differences at near-ties."""


def resolve(value: object) -> Speculative | None:
    """``LocalModel``'s ``speculative=`` argument as settings (``None``: off)."""
    if value is None or value is False:
        return None
    if value is True:
        return Speculative()
    if isinstance(value, Speculative):
        if isinstance(value.max_draft, bool) or not (
            isinstance(value.max_draft, int) and 1 <= value.max_draft <= 31
        ):
            raise UserError(
                f"Speculative.max_draft must be an integer from 1 to 31, got {value.max_draft!r}",
                hint="e.g. Speculative(max_draft=15)",
            )
        return value
    if isinstance(value, DraftSource):
        return Speculative(draft=value)
    raise UserError(
        f"speculative= takes True, a draft source or Speculative(...), got {value!r:.100}",
        hint="e.g. LocalModel(path, speculative=True) for prompt lookup",
    )
