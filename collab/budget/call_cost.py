"""What a metered call costs: remote models by their price, local ones by the cost model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.budget.local_costs import FreeLocal, LocalCostModel
from collab.budget.prices import PriceFn, estimate_cost_usd
from collab.errors import UserError

if TYPE_CHECKING:
    from collab.models.base import Model
    from collab.types import Completion

__all__ = ["Costing", "price_name"]


def price_name(model: Model) -> str:
    """The name prices are looked up by: a RemoteModel's LiteLLM string, else ``name``."""
    litellm_name = getattr(model, "model", None)
    return litellm_name if isinstance(litellm_name, str) else model.name


@dataclass(frozen=True)
class Costing:
    """Prices calls: a model's own price first (``RemoteModel(prices=)``,
    ``ScriptedModel(cost_per_token_usd=)``), else ``price``; local calls with ``local``."""

    price: PriceFn = estimate_cost_usd
    local: LocalCostModel = FreeLocal()  # noqa: RUF009  (frozen, shared safely)

    def remote_usd(self, model: Model, prompt_tokens: int, completion_tokens: int) -> float | None:
        """US dollars for a remote call with these token counts; ``None``: no price known."""
        prices = getattr(model, "prices", None)
        if prices is not None and hasattr(prices, "cost_usd"):
            return float(prices.cost_usd(prompt_tokens, completion_tokens))
        rate = getattr(model, "cost_per_token_usd", None)
        if rate:
            return (prompt_tokens + completion_tokens) * float(rate)
        return self.price(price_name(model), prompt_tokens, completion_tokens)

    def worst_case_usd(self, model: Model, prompt_tokens: int, max_tokens: int) -> float:
        """The most a remote call can cost, on the dearest of the model (or of its Router's
        deployments) and its fallbacks; refuses a model with no price (the limit could not be
        enforced)."""
        worst = 0.0
        own = getattr(model, "deployments", ()) or (model,)
        fallbacks = tuple(getattr(model, "fallbacks", ()))
        for candidate in (*own, *fallbacks):
            priced = self.remote_usd(candidate, prompt_tokens, max_tokens)
            if priced is None:
                raise _unpriced(price_name(candidate), fallback=candidate in fallbacks)
            worst = max(worst, priced)
        return worst

    def actual_usd(
        self, model: Model, completion: Completion | None, *, latency_s: float, cpu_s: float
    ) -> float | None:
        """What a finished call cost (``completion`` = its usage; ``None``: no tokens billed)."""
        p = completion.usage.prompt_tokens if completion is not None else 0
        c = completion.usage.completion_tokens if completion is not None else 0
        if model.kind != "remote":
            return self.local.cost_usd(
                prompt_tokens=p, completion_tokens=c, cpu_s=cpu_s, wall_s=latency_s
            )
        if completion is None:
            return 0.0
        answered = _answering_model(model, completion.model)
        own = completion.cost_usd
        # Backends price with collab.budget.prices too: their own figure stands unless the run was
        # given its own price function.
        if own is not None and self.price is estimate_cost_usd:
            return own
        priced = self.remote_usd(answered, p, c)
        return priced if priced is not None else own


def _answering_model(model: Model, answered_by: str) -> Model:
    """The model of a fallback chain, or the deployment of a Router, that answered (by name),
    else ``model`` itself."""
    if answered_by == model.name:
        return model
    for deployment in getattr(model, "deployments", ()):
        if deployment.id == answered_by:
            return deployment  # type: ignore[no-any-return]
    for fallback in getattr(model, "fallbacks", ()):
        if getattr(fallback, "name", None) == answered_by:
            return fallback  # type: ignore[no-any-return]
    return model


def _unpriced(name: str, *, fallback: bool) -> UserError:
    which = "its fallback" if fallback else "model"
    return UserError(
        f"a USD budget is set but {which} {name!r} has no price, so the limit cannot be enforced",
        hint=f"give it one: collab.set_price({name!r}, ModelPrice(input_per_mtok_usd=..., "
        "output_per_mtok_usd=...)), RemoteModel(..., prices=ModelPrice(...)) or "
        "collab.Run(price=...); or budget remote_tokens instead of usd",
    )
