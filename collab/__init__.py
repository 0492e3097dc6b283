"""collab: small local models and large remote ones, working together on a cost budget.

Everything public is importable from here. Heavy modules (LiteLLM, llama.cpp) load only when
the name that needs them is first used, so ``import collab`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from collab.errors import (
    AuthenticationError,
    BudgetExceeded,
    CollabError,
    InvalidOutputError,
    MalformedResponseError,
    MissingAPIKeyError,
    ModelCallError,
    ModelFileCorruptError,
    ModelFileError,
    ModelFileMissingError,
    ModelTimeoutError,
    PromptError,
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
    from collab.budget.ledger import CallRecord, Ledger, Saving, Summary
    from collab.budget.limits import Budget
    from collab.budget.local_costs import CpuSecondsCost, EnergyCost, FreeLocal, LocalCostModel
    from collab.budget.metered import MeteredModel, metered
    from collab.budget.policies import (
        BudgetPolicy,
        Degrade,
        Exceeded,
        Interrupt,
        Proceed,
        Raise,
        RaiseLimits,
        UseModel,
    )
    from collab.budget.prices import estimate_cost_usd, price_of, set_price
    from collab.budget.run import Run, active_run, scope
    from collab.models.base import CompletionStream, Model
    from collab.models.catalog import CatalogEntry, get_entry, list_models, pull
    from collab.models.default_llm import default_llm
    from collab.models.deployments import Deployment, RouterOptions
    from collab.models.local import LocalModel
    from collab.models.remote import RemoteModel
    from collab.models.retry import RetryPolicy
    from collab.models.scripted import ScriptedModel
    from collab.models.server import EmbeddedServer, embedded_llm
    from collab.types import ModelPrice

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Budget": "collab.budget.limits",
    "BudgetPolicy": "collab.budget.policies",
    "CallRecord": "collab.budget.ledger",
    "CpuSecondsCost": "collab.budget.local_costs",
    "Degrade": "collab.budget.policies",
    "EnergyCost": "collab.budget.local_costs",
    "Exceeded": "collab.budget.policies",
    "FreeLocal": "collab.budget.local_costs",
    "Interrupt": "collab.budget.policies",
    "Ledger": "collab.budget.ledger",
    "LocalCostModel": "collab.budget.local_costs",
    "Proceed": "collab.budget.policies",
    "Raise": "collab.budget.policies",
    "RaiseLimits": "collab.budget.policies",
    "MeteredModel": "collab.budget.metered",
    "Run": "collab.budget.run",
    "metered": "collab.budget.metered",
    "Saving": "collab.budget.ledger",
    "Summary": "collab.budget.ledger",
    "UseModel": "collab.budget.policies",
    "active_run": "collab.budget.run",
    "scope": "collab.budget.run",
    "CatalogEntry": "collab.models.catalog",
    "CompletionStream": "collab.models.base",
    "Deployment": "collab.models.deployments",
    "EmbeddedServer": "collab.models.server",
    "LocalModel": "collab.models.local",
    "Model": "collab.models.base",
    "RemoteModel": "collab.models.remote",
    "ScriptedModel": "collab.models.scripted",
    "ModelPrice": "collab.types",
    "RetryPolicy": "collab.models.retry",
    "RouterOptions": "collab.models.deployments",
    "estimate_cost_usd": "collab.budget.prices",
    "price_of": "collab.budget.prices",
    "set_price": "collab.budget.prices",
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
    "AuthenticationError",
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
    "Deployment",
    "EmbeddedServer",
    "EnergyCost",
    "Exceeded",
    "FreeLocal",
    "Interrupt",
    "InvalidOutputError",
    "Ledger",
    "LocalCostModel",
    "LocalModel",
    "MalformedResponseError",
    "Message",
    "MeteredModel",
    "MissingAPIKeyError",
    "Model",
    "ModelCallError",
    "ModelFileCorruptError",
    "ModelFileError",
    "ModelFileMissingError",
    "ModelPrice",
    "ModelTimeoutError",
    "Proceed",
    "PromptError",
    "PullError",
    "Raise",
    "RaiseLimits",
    "RemoteAPIError",
    "RemoteModel",
    "RetryPolicy",
    "RouterOptions",
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
    "metered",
    "price_of",
    "pull",
    "scope",
    "set_price",
    "tool",
    "tracing",
]
