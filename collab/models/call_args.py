"""The call arguments every backend and the metering seam check the same way, before any
reservation or request: a bad one must never reach a provider or llama.cpp."""

from __future__ import annotations

from collab.errors import UserError

__all__ = ["MAX_TOKENS_CEILING", "check_max_tokens"]

MAX_TOKENS_CEILING = 16_777_216
"""2**24: more than any model's context window; a larger ``max_tokens`` is a bug in the caller
(llama.cpp reads values past its int32 range, or 0 and below, as "until the context is full")."""


def check_max_tokens(max_tokens: object) -> int:
    """``max_tokens`` if it is an int in 1..``MAX_TOKENS_CEILING``; else ``UserError``.

    Floats (even whole ones), bools and strings are refused: a budget reserves exactly this
    many output tokens, so it must be the number the provider will honour.
    """
    if (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_TOKENS_CEILING
    ):
        raise UserError(
            f"max_tokens must be a positive integer up to {MAX_TOKENS_CEILING:,}, "
            f"got {max_tokens!r:.40}",
            hint="pass the most output tokens the call may produce, e.g. max_tokens=256",
        )
    return max_tokens
