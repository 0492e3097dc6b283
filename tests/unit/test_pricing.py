"""Prices: LiteLLM's bundled map, user prices that win over it, and unpriced models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collab.budget.prices import (
    estimate_cost_usd,
    missing_price_note,
    price_of,
    set_price,
)
from collab.errors import UserError
from collab.litellm_import import import_litellm
from collab.types import ModelPrice


@pytest.fixture
def map_price() -> tuple[float, float]:
    """gpt-4o-mini's (input, output) USD per token, read straight from LiteLLM's map."""
    entry = import_litellm().model_cost["gpt-4o-mini"]
    return entry["input_cost_per_token"], entry["output_cost_per_token"]


@pytest.fixture
def clean_prices() -> Iterator[None]:
    yield
    for model in ("gpt-4o-mini", "openai/foo"):
        set_price(model, None)


def test_mapped_model_costs_what_the_map_says(map_price: tuple[float, float]) -> None:
    expected = 1000 * map_price[0] + 2000 * map_price[1]
    assert estimate_cost_usd("gpt-4o-mini", 1000, 2000) == pytest.approx(expected)
    assert estimate_cost_usd("openai/gpt-4o-mini", 1000, 2000) == pytest.approx(expected)
    price = price_of("openai/gpt-4o-mini")
    assert price is not None
    assert price.input_per_mtok_usd == pytest.approx(map_price[0] * 1e6)
    assert price.output_per_mtok_usd == pytest.approx(map_price[1] * 1e6)


@pytest.mark.usefixtures("clean_prices")
def test_user_price_wins_over_the_map_until_removed(map_price: tuple[float, float]) -> None:
    set_price("gpt-4o-mini", ModelPrice(input_per_mtok_usd=1.0, output_per_mtok_usd=2.0))
    assert estimate_cost_usd("gpt-4o-mini", 1000, 2000) == pytest.approx(0.005)
    assert price_of("gpt-4o-mini") == ModelPrice(1.0, 2.0)
    set_price("gpt-4o-mini", None)
    expected = 1000 * map_price[0] + 2000 * map_price[1]
    assert estimate_cost_usd("gpt-4o-mini", 1000, 2000) == pytest.approx(expected)


@pytest.mark.usefixtures("clean_prices")
def test_unmapped_model_has_no_price_unless_given_one() -> None:
    assert price_of("openai/foo") is None
    assert estimate_cost_usd("openai/foo", 10, 10) is None
    assert (
        missing_price_note("openai/foo") == "no price for 'openai/foo': pass prices=ModelPrice(...)"
    )
    set_price("openai/foo", ModelPrice(0.5, 0.5))
    assert estimate_cost_usd("openai/foo", 1_000_000, 1_000_000) == pytest.approx(1.0)


def test_nonsense_model_names_never_raise() -> None:
    assert estimate_cost_usd("", 1, 1) is None
    assert price_of("not a model at all") is None


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "0.1"])
def test_prices_must_be_finite_and_non_negative(bad: object) -> None:
    with pytest.raises(UserError, match="input_per_mtok_usd"):
        ModelPrice(bad, 1.0)  # type: ignore[arg-type]


def test_price_arithmetic_is_per_million_tokens() -> None:
    assert ModelPrice(2.0, 8.0).cost_usd(500_000, 250_000) == pytest.approx(3.0)
