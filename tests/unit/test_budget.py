"""Budget: validated, immutable limits; anything left unset is unlimited."""

from __future__ import annotations

import math

import pytest

from collab.budget.limits import LIMIT_NAMES, Budget
from collab.budget.meter import Meter
from collab.budget.policies import Degrade, Proceed
from collab.errors import UserError
from collab.models.scripted import ScriptedModel


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize("value", [-1, -0.01, math.nan, math.inf, True, False, "1", [1]])
def test_a_limit_must_be_a_finite_number_at_least_zero(name: str, value: object) -> None:
    with pytest.raises(UserError) as caught:
        Budget(**{name: value})  # type: ignore[arg-type]
    assert f"Budget.{name}" in caught.value.message
    assert repr(value) in caught.value.message
    assert "None means unlimited" in caught.value.hint


@pytest.mark.parametrize("name", LIMIT_NAMES)
def test_zero_and_positive_limits_are_accepted(name: str) -> None:
    assert Budget(**{name: 0}).limits()[name] == 0  # type: ignore[arg-type]
    assert Budget(**{name: 2.5}).limits()[name] == 2.5  # type: ignore[arg-type]


def test_unset_limits_are_none() -> None:
    assert Budget().limits() == dict.fromkeys(LIMIT_NAMES)


def test_unknown_policy_name_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown budget policy 'stop'") as caught:
        Budget(policy="stop")  # type: ignore[arg-type]
    for name in ("raise", "degrade", "interrupt"):
        assert repr(name) in caught.value.hint


def test_policy_that_is_neither_a_name_nor_callable_is_refused() -> None:
    with pytest.raises(UserError, match="policy name or a callable, got 42"):
        Budget(policy=42)  # type: ignore[arg-type]


def test_policy_may_be_an_object_or_a_plain_function() -> None:
    def allow(exceeded: object) -> Proceed:
        return Proceed()

    assert Budget(policy=allow).policy is allow
    degrade = Degrade()
    assert Budget(policy=degrade).policy is degrade


@pytest.mark.parametrize("kind", ["per_node", "per_role"])
def test_scoped_limits_are_one_level_deep(kind: str) -> None:
    nested = Budget(usd=1.0, per_node={"inner": Budget(calls=1)})
    with pytest.raises(UserError, match=r"\['draft'\] has its own per_node/per_role") as caught:
        Budget(**{kind: {"draft": nested}})  # type: ignore[arg-type]
    assert "one level deep" in caught.value.hint


@pytest.mark.parametrize("kind", ["per_node", "per_role"])
def test_scoped_limits_must_be_budgets_in_a_mapping(kind: str) -> None:
    with pytest.raises(UserError, match=r"\['draft'\] must be a Budget, got 0.5"):
        Budget(**{kind: {"draft": 0.5}})  # type: ignore[arg-type]
    with pytest.raises(UserError, match="must be a mapping"):
        Budget(**{kind: [Budget()]})  # type: ignore[arg-type]


def test_scoped_limits_are_a_private_copy() -> None:
    per_node = {"draft": Budget(calls=1)}
    budget = Budget(per_node=per_node)
    per_node["draft"] = Budget(calls=100)
    per_node["verify"] = Budget(calls=100)
    assert budget.per_node == {"draft": Budget(calls=1)}


def test_budget_is_frozen() -> None:
    budget = Budget(usd=1.0)
    with pytest.raises(AttributeError):
        budget.usd = 2.0  # type: ignore[misc]


def test_with_limits_changes_and_lifts_limits_keeping_the_rest() -> None:
    per_node = {"draft": Budget(calls=1)}
    budget = Budget(usd=1.0, calls=3, per_node=per_node, policy="degrade")
    changed = budget.with_limits(usd=2.0, calls=None, local_tokens=50)
    assert changed.limits() == {
        "usd": 2.0,
        "remote_tokens": None,
        "local_tokens": 50,
        "calls": None,
        "wall_s": None,
    }
    assert changed.per_node == per_node
    assert changed.policy == "degrade"
    assert budget.usd == 1.0 and budget.calls == 3  # the original is untouched


def test_with_limits_unknown_name_names_it_and_lists_the_limits() -> None:
    with pytest.raises(UserError, match="no limit named 'dollars', 'tokens'") as caught:
        Budget().with_limits(dollars=1.0, tokens=5)
    for name in LIMIT_NAMES:
        assert name in caught.value.hint


def test_with_limits_validates_the_new_values() -> None:
    with pytest.raises(UserError, match=r"Budget\.usd must be a finite number"):
        Budget(usd=1.0).with_limits(usd=-1.0)


@pytest.mark.parametrize("budget", [None, Budget()])
def test_unset_budget_lets_every_call_through(budget: Budget | None) -> None:
    remote = ScriptedModel([], name="big", kind="remote")  # unpriced: nothing asks for a price
    local = ScriptedModel([], name="small", kind="local")
    meter = Meter(budget)
    for model in (remote, local) * 100:
        reservation = meter.reserve(model, prompt_tokens=10_000, max_tokens=100_000)
        meter.fail(reservation, RuntimeError("not called"))
    assert meter.spent()["calls"] == 200
    assert meter.reserved() == dict.fromkeys(LIMIT_NAMES, 0.0)
    assert {r.outcome for r in meter.ledger.records} == {"error"}
