"""Deployments behind a LiteLLM ``Router``: one model group served by several endpoints.

``RemoteModel`` given a ``Router`` (or a list of ``Deployment``, turned into one) routes each
call through it: LiteLLM picks the deployment (routing strategy), retries on another one
(``num_retries``), and cools a failing one down (``allowed_fails``, ``cooldown_time``). Each
deployment has its own price; the completion names the deployment that answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from collab.errors import UserError
from collab.models.remote_request import PLACEHOLDER_KEY
from collab.types import ModelKind, ModelPrice

__all__ = ["Deployment", "RouterOptions", "build_router", "deployments_of", "is_router"]


@dataclass(frozen=True)
class Deployment:
    """One endpoint serving a model group: a LiteLLM model string where it is served."""

    model: str
    """LiteLLM model string, e.g. ``"openai/smollm2"`` for an OpenAI-compatible server."""
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    name: str | None = None
    """Its id in the Router and the name calls it answers are recorded under (default:
    ``model@api_base``)."""
    prices: ModelPrice | None = None
    """Its price; ``None``: LiteLLM's price map for ``model`` (or ``collab.set_price``)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further LiteLLM parameters for this deployment (``{"rpm": 60}``, ...)."""

    kind: ModelKind = "remote"

    @property
    def id(self) -> str:
        return self.name or (f"{self.model}@{self.api_base}" if self.api_base else self.model)

    def entry(self, group: str, *, placeholder_key: bool = False) -> dict[str, Any]:
        """This deployment as an item of the Router's ``model_list``; ``placeholder_key``
        sends a dummy key (a self-hosted server needs none, the OpenAI client insists)."""
        params: dict[str, Any] = {**self.extra, "model": self.model}
        if self.api_base:
            params["api_base"] = self.api_base
        if self.api_key:
            params["api_key"] = self.api_key
        elif placeholder_key:
            params["api_key"] = PLACEHOLDER_KEY
        return {"model_name": group, "litellm_params": params, "model_info": {"id": self.id}}


class RouterOptions(NamedTuple):
    """How the Router built from a deployment list balances and recovers."""

    routing_strategy: str = "simple-shuffle"
    """LiteLLM's strategy: ``"simple-shuffle"``, ``"least-busy"``, ``"latency-based-routing"``,
    ``"usage-based-routing-v2"``."""
    num_retries: int = 2
    """Attempts after the first, each on a deployment that is not cooling down."""
    allowed_fails: int = 1
    """Failures a deployment may have (per minute) before it cools down."""
    cooldown_time_s: float = 30.0
    """How long a failed deployment gets no calls."""
    retry_after_s: float = 0.0
    """Least wait before a retry."""


def build_router(
    group: str, deployments: Sequence[Deployment], options: RouterOptions, *, timeout_s: float
) -> Any:
    """A LiteLLM ``Router`` serving ``deployments`` as the model group ``group``."""
    from collab.litellm_import import import_litellm

    if not deployments:
        raise UserError("a Router needs at least one deployment", hint="pass Deployment(...)s")
    ids = [d.id for d in deployments]
    if len(set(ids)) != len(ids):
        raise UserError(f"deployment names must differ, got {ids}", hint="give each a name=")
    litellm = import_litellm()
    return litellm.Router(
        model_list=[
            d.entry(group, placeholder_key=_needs_placeholder(litellm, d)) for d in deployments
        ],
        routing_strategy=options.routing_strategy,
        num_retries=options.num_retries,
        allowed_fails=options.allowed_fails,
        cooldown_time=options.cooldown_time_s,
        retry_after=options.retry_after_s,
        timeout=timeout_s,
    )


def _needs_placeholder(litellm: Any, deployment: Deployment) -> bool:
    """A self-hosted deployment (``api_base``) with no key anywhere: as ``RemoteModel`` does."""
    if deployment.api_key or not deployment.api_base:
        return False
    report = litellm.validate_environment(model=deployment.model, api_base=deployment.api_base)
    return bool(report.get("missing_keys"))


def is_router(value: object) -> bool:
    """Whether ``value`` is a LiteLLM ``Router`` (checked without importing LiteLLM)."""
    return type(value).__name__ == "Router" and type(value).__module__.startswith("litellm")


def deployments_of(
    router: Any, group: str | None, prices: Mapping[str, ModelPrice] | None
) -> tuple[str, tuple[Deployment, ...]]:
    """The model group ``router`` serves (``group``, or its only one) and its deployments,
    priced from ``prices`` (deployment id -> price)."""
    entries = list(router.registry().all())
    groups = sorted({e["model_name"] for e in entries})
    if group is None:
        if len(groups) != 1:
            raise UserError(
                f"the Router serves {len(groups)} model groups ({', '.join(groups)})",
                hint="say which with RemoteModel(router, group=...)",
            )
        group = groups[0]
    elif group not in groups:
        raise UserError(
            f"the Router has no model group {group!r}", hint=f"it has: {', '.join(groups)}"
        )
    prices = dict(prices or {})
    found = []
    for entry in entries:
        if entry["model_name"] != group:
            continue
        params = entry.get("litellm_params", {})
        name = str(entry.get("model_info", {}).get("id") or params["model"])
        found.append(
            Deployment(
                model=params["model"],
                api_base=params.get("api_base"),
                api_key=params.get("api_key"),
                name=name,
                prices=prices.pop(name, None),
            )
        )
    if prices:
        raise UserError(
            f"prices for deployments the Router does not have: {sorted(prices)}",
            hint=f"its deployments: {', '.join(d.id for d in found)}",
        )
    return group, tuple(found)
