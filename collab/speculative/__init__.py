"""Speculative decoding: faster local generation with the same output, and drafted remote edits.

Locally, ``LocalModel(path, speculative=...)`` drafts a few tokens ahead, has the target
verify them in one llama.cpp batch, keeps what it confirms and drops the rest from the KV
cache. Greedy output is the target's, token for token; sampling keeps the target's
distribution (speculative sampling). Drafts come from prompt lookup (``PromptLookup``, the
default), a draft model with the same vocabulary (``DraftModel``, e.g. one made with
``skip_layers``), or any model drafting as text (``CrossVocabDraft``).

Remotely, an SLM's draft of the reply (say, of an edited document) goes to the LLM as its
predicted output (LiteLLM ``prediction``) where that can help: ``takes_prediction`` says
where, and ``patterns.speculative`` is the edit-a-document graph built on it.
"""

from collab.speculative.config import Speculative
from collab.speculative.context import INVARIANT_CONTEXT
from collab.speculative.cross_vocab import CrossVocabDraft
from collab.speculative.draft_model import DraftModel
from collab.speculative.draft_sources import Draft, DraftRequest, DraftSession, DraftSource
from collab.speculative.layer_skip import skip_layers, spread_layers
from collab.speculative.lookup import PromptLookup
from collab.speculative.predicted import takes_prediction
from collab.speculative.stats import SpeculationStats, SpeculativeCompletion

__all__ = [
    "INVARIANT_CONTEXT",
    "CrossVocabDraft",
    "Draft",
    "DraftModel",
    "DraftRequest",
    "DraftSession",
    "DraftSource",
    "PromptLookup",
    "SpeculationStats",
    "Speculative",
    "SpeculativeCompletion",
    "skip_layers",
    "spread_layers",
    "takes_prediction",
]
