"""``Speculative``: how a ``LocalModel`` speculates."""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

from collab.errors import UserError
from collab.speculative.draft_sources import DraftSource

__all__ = ["Exactness", "Speculative", "resolve"]

Exactness = Literal["bit-identical", "batched"]
"""What greedy speculative output is exact to (``Speculative.exactness``)."""


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
    exactness: Exactness = "bit-identical"
    """What greedy output is exact to. ``"bit-identical"``: verify only in batch sizes whose
    logits are bit-identical to one-token decoding on this model (probed once per process), so
    greedy output is the plain model's, token for token, whatever is drafted. ``"batched"``:
    verify in any batch size up to ``max_draft + 1``; every token is still the target's own
    greedy choice at its position, computed in the verification batch (as llama.cpp's
    speculative server does), but where a weight kernel changes with the batch size a near-tie
    can go the other way than in one-token decoding. Faster on such models (K-quants here)."""


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
        if value.exactness not in get_args(Exactness):
            raise UserError(
                f"Speculative.exactness must be 'bit-identical' or 'batched', "
                f"got {value.exactness!r}",
                hint='e.g. Speculative(exactness="batched") to verify in any batch size',
            )
        return value
    if isinstance(value, DraftSource):
        return Speculative(draft=value)
    raise UserError(
        f"speculative= takes True, a draft source or Speculative(...), got {value!r:.100}",
        hint="e.g. LocalModel(path, speculative=True) for prompt lookup",
    )
