"""The generation arguments every backend takes, checked the same way before any call."""

from __future__ import annotations

import math

from collab.errors import UserError
from collab.models.call_args import check_max_tokens

__all__ = ["check_sampling"]


def check_sampling(max_tokens: int, temperature: float, stop: list[str] | str | None) -> list[str]:
    """Validate generation arguments; returns ``stop`` as a list. Raises ``UserError``."""
    check_max_tokens(max_tokens)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise UserError(
            f"temperature must be a number >= 0, got {temperature!r}",
            hint="0 is greedy (deterministic); 0.7 is a common sampling value",
        )
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    for s in stops:
        if not isinstance(s, str) or not s:
            raise UserError(
                f"stop strings must be non-empty strings, got {s!r}", hint='pass e.g. ["\\n\\n"]'
            )
    return stops
