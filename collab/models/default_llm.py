"""The run's "remote LLM": a provider model when one is configured, else the embedded server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from collab.models.remote import RemoteModel

__all__ = ["LLM_ENV_VAR", "default_llm"]

LLM_ENV_VAR = "COLLAB_LLM"
"""Environment variable naming a LiteLLM model string to use as the remote LLM."""


@contextmanager
def default_llm(model: str | None = None) -> Iterator[RemoteModel]:
    """Yield ``RemoteModel(model)`` (or ``$COLLAB_LLM``); with neither, the embedded server's."""
    chosen = model or os.environ.get(LLM_ENV_VAR)
    if chosen:
        llm = RemoteModel(chosen)
        llm.check()  # a missing key fails now, not at the first escalation
        yield llm
        return
    from collab.models.server import embedded_llm

    with embedded_llm() as llm:
        yield llm
