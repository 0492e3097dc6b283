"""Prices of remote models: user prices first, then LiteLLM's bundled price map (offline).

A model with no price never breaks a call: its cost is ``None`` and ``missing_price_note``
says how to give it one. Looking up the map imports LiteLLM (seconds, once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from collab.types import ModelPrice

__all__ = [
    "PriceFn",
    "estimate_cost_usd",
    "missing_price_note",
    "price_of",
    "set_price",
]


PriceFn = Callable[[str, int, int], float | None]
"""``(model, prompt_tokens, completion_tokens) -> US dollars``, ``None`` when unknown;
``estimate_cost_usd`` is the default."""

_user_prices: dict[str, ModelPrice] = {}
_unmapped: set[str] = set()
"""Models the (static, bundled) map has no price for: asking again costs an exception."""
_lock = threading.Lock()


def set_price(model: str, price: ModelPrice | None) -> None:
    """Price ``model`` (a LiteLLM model string) for every call; it wins over the price map.

    ``None`` removes the user price, so the map applies again.
    """
    with _lock:
        if price is None:
            _user_prices.pop(model, None)
        else:
            _user_prices[model] = price


def price_of(model: str) -> ModelPrice | None:
    """The price of ``model``: the user's (``set_price``), else the map's, else ``None``."""
    with _lock:
        user = _user_prices.get(model)
    if user is not None:
        return user
    return _map_price(model)


def estimate_cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Cost of a call in US dollars, or ``None`` when ``model`` has no price."""
    with _lock:
        user = _user_prices.get(model)
        unmapped = model in _unmapped
    if user is not None:
        return user.cost_usd(prompt_tokens, completion_tokens)
    if unmapped:
        return None
    from collab.litellm_import import import_litellm

    litellm = import_litellm()
    try:
        # The map's own arithmetic: it knows tiered prices (e.g. above 200k tokens).
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # LiteLLM raises several types for "not mapped"; all mean no price
        with _lock:
            _unmapped.add(model)
        return None
    return float(prompt_usd) + float(completion_usd)


def missing_price_note(model: str) -> str:
    """What ``Completion.cost_note`` says when ``model`` has no price."""
    return f"no price for {model!r}: pass prices=ModelPrice(...)"


def _map_price(model: str) -> ModelPrice | None:
    from collab.litellm_import import import_litellm

    litellm = import_litellm()
    try:
        info = litellm.get_model_info(model)
    except Exception:  # not mapped
        return None
    input_cost, output_cost = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if input_cost is None or output_cost is None:
        return None
    return ModelPrice(input_cost * 1_000_000, output_cost * 1_000_000)


def format_usd(amount: float, *, sign: bool = True) -> str:
    """US dollars readable at any scale: $1.2345, $0.000023 (small calls cost micro-dollars)."""
    prefix = "$" if sign else ""
    if amount == 0:
        return f"{prefix}0"
    if abs(amount) >= 0.01:
        return f"{prefix}{amount:.4f}"
    if abs(amount) >= 1e-6:
        return f"{prefix}{amount:.6f}"
    return f"{prefix}{amount:.2e}"
