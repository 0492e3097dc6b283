"""Predicted outputs: whether a model can use a draft of its reply.

OpenAI's predicted outputs (LiteLLM ``prediction``) let a provider verify a whole expected
reply at once and emit the matching stretches fast: an SLM's draft of an edited document is
such a prediction. A speculative ``LocalModel`` uses the prediction the same way, as a prompt
lookup source. Everywhere else a prediction does nothing, so the SLM should not spend time
drafting one: ``takes_prediction`` says which case a model is.
"""

from __future__ import annotations

import inspect

from collab.errors import CollabError
from collab.models.base import Model

__all__ = ["takes_prediction"]

_MISSING = object()


def takes_prediction(model: Model) -> bool:
    """Whether a ``prediction=`` passed to ``model.complete`` can make the call faster.

    True for a ``RemoteModel`` whose provider LiteLLM says supports ``prediction`` (a missing
    key counts as no), for a speculative ``LocalModel``, and for any other model whose
    ``complete`` takes ``prediction`` (test doubles); false for the rest.
    """
    try:
        parameters = inspect.signature(model.complete).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    if "prediction" not in parameters:
        return False
    speculative = getattr(model, "speculative", _MISSING)
    if speculative is not _MISSING:  # a LocalModel: only its speculative decoder uses it
        return speculative is not None
    provider_info = getattr(model, "_provider_info", None)
    if callable(provider_info):  # a RemoteModel: what LiteLLM knows of the provider
        try:
            return "prediction" in provider_info().params
        except CollabError:
            return False
    return True
