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
    ToolArgumentsError,
    UnknownModelError,
    UserError,
)
from collab.tools import Tool, tool
from collab.types import Completion, Message, ToolCall, Usage

if TYPE_CHECKING:
    from collab import graph, tracing
    from collab.budget import Budget
    from collab.ledger import CallRecord, Ledger, Saving, Summary
    from collab.local_cost import CpuSecondsCost, EnergyCost, FreeLocal, LocalCostModel
    from collab.models.base import CompletionStream, Model
    from collab.models.catalog import CatalogEntry, get_entry, list_models, pull
    from collab.models.default_llm import default_llm
    from collab.models.local import LocalModel
    from collab.models.remote import RemoteModel
    from collab.models.retry import RetryPolicy
    from collab.models.scripted import ScriptedModel
    from collab.models.server import EmbeddedServer, embedded_llm
    from collab.policies import (
        BudgetPolicy,
        Degrade,
        Exceeded,
        Interrupt,
        Proceed,
        Raise,
        RaiseLimits,
        UseModel,
    )
    from collab.pricing import ModelPrice, estimate_cost_usd, price_of, set_price
    from collab.run import Run, active_run, scope

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Budget": "collab.budget",
    "BudgetPolicy": "collab.policies",
    "CallRecord": "collab.ledger",
    "CpuSecondsCost": "collab.local_cost",
    "Degrade": "collab.policies",
    "EnergyCost": "collab.local_cost",
    "Exceeded": "collab.policies",
    "FreeLocal": "collab.local_cost",
    "Interrupt": "collab.policies",
    "Ledger": "collab.ledger",
    "LocalCostModel": "collab.local_cost",
    "Proceed": "collab.policies",
    "Raise": "collab.policies",
    "RaiseLimits": "collab.policies",
    "Run": "collab.run",
    "Saving": "collab.ledger",
    "Summary": "collab.ledger",
    "UseModel": "collab.policies",
    "active_run": "collab.run",
    "scope": "collab.run",
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


_SUBMODULES = frozenset({"graph", "tracing"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"collab.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'collab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Budget",
    "BudgetExceeded",
    "BudgetPolicy",
    "CallRecord",
    "CatalogEntry",
    "CollabError",
    "Completion",
    "CompletionStream",
    "CpuSecondsCost",
    "Degrade",
    "EmbeddedServer",
    "EnergyCost",
    "Exceeded",
    "FreeLocal",
    "Interrupt",
    "InvalidOutputError",
    "Ledger",
    "LocalCostModel",
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
    "Proceed",
    "PullError",
    "Raise",
    "RaiseLimits",
    "RemoteAPIError",
    "RemoteModel",
    "RetryPolicy",
    "Run",
    "Saving",
    "SchemaError",
    "ScriptedModel",
    "ServerStartError",
    "ServerUnreachableError",
    "Summary",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "UnknownModelError",
    "Usage",
    "UseModel",
    "UserError",
    "__version__",
    "active_run",
    "default_llm",
    "embedded_llm",
    "estimate_cost_usd",
    "get_entry",
    "graph",
    "list_models",
    "price_of",
    "pull",
    "scope",
    "set_price",
    "tool",
    "tracing",
]
