"""collab: small local models and large remote ones, working together on a cost budget.

Everything public is importable from here. Heavy modules (LiteLLM, llama.cpp) load only when
the name that needs them is first used, so ``import collab`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from collab.errors import (
    BudgetExceeded,
    CollabError,
    InvalidOutputError,
    MissingAPIKeyError,
    ModelCallError,
    ModelFileCorruptError,
    ModelFileError,
    ModelFileMissingError,
    ModelTimeoutError,
    PullError,
    RemoteAPIError,
    SchemaError,
    ServerStartError,
    ServerUnreachableError,
    UnknownModelError,
    UserError,
)
from collab.types import Completion, Message, Usage

if TYPE_CHECKING:
    from collab.models.base import CompletionStream, Model
    from collab.models.catalog import CatalogEntry, get_entry, list_models, pull
    from collab.models.default_llm import default_llm
    from collab.models.local import LocalModel
    from collab.models.remote import RemoteModel
    from collab.models.retry import RetryPolicy
    from collab.models.scripted import ScriptedModel
    from collab.models.server import EmbeddedServer, embedded_llm
    from collab.pricing import ModelPrice, estimate_cost_usd, price_of, set_price

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "CatalogEntry": "collab.models.catalog",
    "CompletionStream": "collab.models.base",
    "EmbeddedServer": "collab.models.server",
    "LocalModel": "collab.models.local",
    "Model": "collab.models.base",
    "RemoteModel": "collab.models.remote",
    "ScriptedModel": "collab.models.scripted",
    "ModelPrice": "collab.pricing",
    "RetryPolicy": "collab.models.retry",
    "estimate_cost_usd": "collab.pricing",
    "price_of": "collab.pricing",
    "set_price": "collab.pricing",
    "default_llm": "collab.models.default_llm",
    "embedded_llm": "collab.models.server",
    "get_entry": "collab.models.catalog",
    "list_models": "collab.models.catalog",
    "pull": "collab.models.catalog",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'collab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BudgetExceeded",
    "CatalogEntry",
    "CollabError",
    "Completion",
    "CompletionStream",
    "EmbeddedServer",
    "InvalidOutputError",
    "LocalModel",
    "Message",
    "MissingAPIKeyError",
    "Model",
    "ModelCallError",
    "ModelFileCorruptError",
    "ModelFileError",
    "ModelFileMissingError",
    "ModelPrice",
    "ModelTimeoutError",
    "PullError",
    "RemoteAPIError",
    "RemoteModel",
    "RetryPolicy",
    "SchemaError",
    "ScriptedModel",
    "ServerStartError",
    "ServerUnreachableError",
    "UnknownModelError",
    "Usage",
    "UserError",
    "__version__",
    "default_llm",
    "embedded_llm",
    "estimate_cost_usd",
    "get_entry",
    "list_models",
    "price_of",
    "pull",
    "set_price",
]
