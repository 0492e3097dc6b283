"""Meter: every call reserves its worst case, then settles (or fails) with what it really used.

The meter is driven directly, with ``ScriptedModel`` standing in for remote and local models:
their token counts are whitespace words, so every amount below is counted by hand.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from collab.budget.call_cost import Costing
from collab.budget.ledger import CallRecord, Ledger
from collab.budget.limits import LIMIT_NAMES, Budget, LimitScope
from collab.budget.meter import Meter, Reservation
from collab.budget.prices import set_price
from collab.errors import BudgetExceeded, UserError
from collab.events import CallStarted, Event
from collab.models.scripted import ScriptedModel
from collab.types import Completion, ModelPrice, Usage

RATE = 0.001
"""USD per token of the scripted remote model: 10 tokens cost $0.01."""


def words(n: int) -> str:
    return " ".join(["w"] * n)


def remote(*, reply_words: int = 5, rate: float = RATE, name: str = "big") -> ScriptedModel:
    return ScriptedModel(
        lambda _: words(reply_words), name=name, kind="remote", cost_per_token_usd=rate
    )


def local(*, reply_words: int = 5, name: str = "small") -> ScriptedModel:
    return ScriptedModel(lambda _: words(reply_words), name=name, kind="local")


def call(
    meter: Meter,
    model: ScriptedModel,
    *,
    prompt: int = 5,
    max_tokens: int = 5,
    node: str | None = None,
    role: str | None = None,
    latency_s: float = 0.0,
) -> CallRecord:
    """Reserve, call the model the meter chose with a ``prompt``-word prompt, settle."""
    reservation = meter.reserve(
        model, prompt_tokens=prompt, max_tokens=max_tokens, node=node, role=role
    )
    completion = reservation.model.complete(words(prompt), max_tokens=max_tokens)
    return meter.settle(reservation, completion, latency_s=latency_s, cpu_s=0.0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Each case: a budget of 30 units of one limit and a model that uses 1 unit per token (or
# per call); the label, spent and needed that the refusal must state.
LIMIT_CASES = {
    "usd": (Budget(usd=0.03), remote, "remote USD", "$0.0300", "$0.001000", "$0.0300"),
    "remote_tokens": (Budget(remote_tokens=30), remote, "remote token", "30", "1", "30"),
    "local_tokens": (Budget(local_tokens=30), local, "local token", "30", "1", "30"),
}


@pytest.mark.parametrize("case", LIMIT_CASES, ids=list(LIMIT_CASES))
def test_token_and_usd_limits_refuse_exactly_the_call_that_would_cross(case: str) -> None:
    budget, make, label, spent, needed, limit = LIMIT_CASES[case]
    model = make(reply_words=5)
    meter = Meter(budget)
    call(meter, model, prompt=5, max_tokens=5)  # uses 10 of 30
    call(meter, model, prompt=15, max_tokens=5)  # needs 20 at worst: exactly fits
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(model, prompt_tokens=1, max_tokens=0)  # one more token
    error = caught.value
    assert f"{label} budget of run exhausted" in error.message
    assert f"spent {spent} " in error.message
    assert f"needs up to {needed} " in error.message
    assert f"(limit {limit})" in error.message
    assert error.limit_name == case  # type: ignore[attr-defined]
    scale = RATE if case == "usd" else 1
    assert error.spent == pytest.approx(30 * scale)  # type: ignore[attr-defined]
    assert error.needed == pytest.approx(1 * scale)  # type: ignore[attr-defined]
    assert error.scope == "run"  # type: ignore[attr-defined]
    assert [r.outcome for r in meter.ledger.records] == ["ok", "ok", "refused"]
    refused = meter.ledger.records[-1]
    assert refused.model == model.name and refused.error == error.message
    assert meter.spent()["calls"] == 2  # a refused call is not a call made
    assert meter.spent()[case] == pytest.approx(30 * scale)
    assert meter.reserved()[case] == 0


def test_a_call_that_exactly_fits_passes_despite_float_sums() -> None:
    meter = Meter(Budget(usd=0.3))
    model = remote(rate=0.1)
    for _ in range(3):  # 0.1 + 0.1 + 0.1 is 0.30000000000000004 in floats
        meter.reserve(model, prompt_tokens=1, max_tokens=0)
    assert meter.reserved()["usd"] == pytest.approx(0.3)
    with pytest.raises(BudgetExceeded):
        meter.reserve(model, prompt_tokens=1, max_tokens=0)


def test_calls_limit_refuses_the_call_after_the_last_allowed() -> None:
    meter = Meter(Budget(calls=2))
    model = local()
    call(meter, model)
    call(meter, model)
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(model, prompt_tokens=1, max_tokens=1)
    assert "model-call budget of run exhausted" in caught.value.message
    assert "spent 2 " in caught.value.message and "needs up to 1 " in caught.value.message
    assert "(limit 2)" in caught.value.message
    assert meter.ledger.records[-1].outcome == "refused"


def test_calls_limit_zero_refuses_the_first_call() -> None:
    meter = Meter(Budget(calls=0))
    with pytest.raises(BudgetExceeded):
        meter.reserve(local(), prompt_tokens=1, max_tokens=1)


def test_run_wall_time_is_the_runs_age_checked_before_each_call() -> None:
    clock = Clock(1000.0)
    meter = Meter(Budget(wall_s=10.0), clock=clock)
    clock.now = 1010.0  # exactly at the limit: still allowed
    call(meter, local(), latency_s=0.25)
    assert meter.spent()["wall_s"] == pytest.approx(10.0)  # age, not the sum of latencies
    clock.now = 1010.5
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1)
    assert "wall-time budget of run exhausted" in caught.value.message
    assert "10.50 s elapsed" in caught.value.message
    assert "(limit 10.00 s)" in caught.value.message
    assert meter.ledger.records[-1].outcome == "refused"


def test_node_wall_time_is_the_time_spent_in_its_calls() -> None:
    clock = Clock()
    meter = Meter(Budget(per_node={"slow": Budget(wall_s=1.0)}), clock=clock)
    clock.now += 3600  # the run's age does not count against a node
    call(meter, local(), node="slow", latency_s=0.6)
    call(meter, local(), node="slow", latency_s=0.6)  # 0.6 spent before it: allowed
    call(meter, local(), node="fast", latency_s=5.0)  # another node: not limited
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="slow")
    assert "wall-time budget of node 'slow' exhausted" in caught.value.message
    assert "1.20 s spent in model calls" in caught.value.message
    assert meter.spent(node="slow")["wall_s"] == pytest.approx(1.2)


def test_calls_in_flight_hold_their_worst_case() -> None:
    meter = Meter(Budget(remote_tokens=30))
    model = remote(reply_words=5)
    first = meter.reserve(model, prompt_tokens=5, max_tokens=15)  # holds 20
    assert meter.reserved()["remote_tokens"] == 20
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(model, prompt_tokens=5, max_tokens=10)  # 15 alone fits, 35 does not
    assert "spent 0 + reserved 20 tokens" in caught.value.message
    assert caught.value.reserved == 20  # type: ignore[attr-defined]
    meter.settle(first, model.complete(words(5)), latency_s=0.0, cpu_s=0.0)  # used 10
    second = meter.reserve(model, prompt_tokens=5, max_tokens=10)  # 10 + 15 fits now
    assert meter.reserved()["remote_tokens"] == 15
    assert meter.spent()["remote_tokens"] == 10
    assert isinstance(second, Reservation)


def test_settling_frees_what_the_call_did_not_use() -> None:
    meter = Meter(Budget(remote_tokens=110, usd=0.11))
    model = remote(reply_words=5)
    reservation = meter.reserve(model, prompt_tokens=5, max_tokens=100)
    assert meter.reserved()["remote_tokens"] == 105
    assert meter.reserved()["usd"] == pytest.approx(0.105)
    with pytest.raises(BudgetExceeded):
        meter.reserve(model, prompt_tokens=5, max_tokens=5)
    record = meter.settle(reservation, model.complete(words(5)), latency_s=0.1, cpu_s=0.0)
    assert (record.prompt_tokens, record.completion_tokens) == (5, 5)
    assert record.cost_usd == pytest.approx(0.01)
    assert meter.reserved() == dict.fromkeys(LIMIT_NAMES, 0.0)
    assert meter.spent()["remote_tokens"] == 10
    assert meter.spent()["usd"] == pytest.approx(0.01)
    meter.reserve(model, prompt_tokens=5, max_tokens=95)  # 10 + 100 = 110: fits again


def test_a_reservation_settles_once() -> None:
    meter = Meter(Budget(calls=5))
    model = local()
    reservation = meter.reserve(model, prompt_tokens=1, max_tokens=5)
    completion = model.complete("w")
    meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)
    with pytest.raises(UserError, match="already settled"):
        meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)
    with pytest.raises(UserError, match="already settled"):
        meter.fail(reservation, RuntimeError("late"))
    assert meter.spent()["calls"] == 1
    assert len(meter.ledger) == 1


def test_local_calls_never_count_against_usd() -> None:
    meter = Meter(Budget(usd=0.0))
    record = call(meter, local(), prompt=1000, max_tokens=1000)
    assert record.kind == "local"
    assert meter.spent()["usd"] == 0
    assert meter.spent()["local_tokens"] == 1005


def test_scripted_kind_counts_as_local_tokens() -> None:
    meter = Meter(Budget(local_tokens=10, remote_tokens=0))
    model = ScriptedModel(lambda _: words(2))  # kind "scripted"
    call(meter, model, prompt=3, max_tokens=7)
    assert meter.spent()["local_tokens"] == 5
    assert meter.ledger.records[0].kind == "local"


# --- scopes ------------------------------------------------------------------------------


def test_node_limit_applies_only_to_calls_in_that_node() -> None:
    meter = Meter(Budget(per_node={"draft": Budget(calls=1)}))
    model = local()
    call(meter, model, node="draft")
    call(meter, model, node="verify")
    call(meter, model)
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(model, prompt_tokens=1, max_tokens=1, node="draft")
    assert "model-call budget of node 'draft' exhausted" in caught.value.message
    assert caught.value.scope == "node 'draft'"  # type: ignore[attr-defined]
    call(meter, model, node="verify")  # other nodes go on
    assert meter.spent(node="draft")["calls"] == 1
    assert meter.spent()["calls"] == 4
    refused = meter.ledger.records[-2]
    assert (refused.outcome, refused.node) == ("refused", "draft")


def test_role_limit_applies_only_to_calls_by_that_role() -> None:
    meter = Meter(Budget(per_role={"verifier": Budget(remote_tokens=20)}))
    model = remote(reply_words=5)
    call(meter, model, role="verifier", prompt=5, max_tokens=5)  # 10
    call(meter, model, role="drafter", prompt=50, max_tokens=50)  # not limited
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(model, prompt_tokens=6, max_tokens=5, role="verifier")  # 10 + 11 > 20
    assert "remote token budget of role 'verifier' exhausted" in caught.value.message
    meter.reserve(model, prompt_tokens=5, max_tokens=5, role="verifier")  # 10 + 10 fits
    assert meter.reserved(role="verifier")["remote_tokens"] == 10


def test_scoped_limits_are_checked_together_with_the_runs() -> None:
    budget = Budget(calls=3, per_node={"draft": Budget(calls=10)})
    meter = Meter(budget)
    for _ in range(3):
        call(meter, local(), node="draft")
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="draft")
    assert caught.value.scope == "run"  # type: ignore[attr-defined]


def test_a_call_must_fit_its_node_and_its_role() -> None:
    budget = Budget(
        per_node={"draft": Budget(local_tokens=100)}, per_role={"drafter": Budget(calls=1)}
    )
    meter = Meter(budget)
    call(meter, local(), node="draft", role="drafter")
    with pytest.raises(BudgetExceeded) as by_role:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="draft", role="drafter")
    assert by_role.value.scope == "role 'drafter'"  # type: ignore[attr-defined]
    with pytest.raises(BudgetExceeded) as by_node:
        meter.reserve(local(), prompt_tokens=90, max_tokens=10, node="draft", role="other")
    assert by_node.value.scope == "node 'draft'"  # type: ignore[attr-defined]
    # Nothing was left held by the refused calls.
    assert meter.reserved(node="draft")["local_tokens"] == 0
    assert meter.reserved(role="drafter")["calls"] == 0


def test_spent_asks_one_scope_at_a_time() -> None:
    with pytest.raises(UserError, match="one scope at a time"):
        Meter().spent(node="a", role="b")


def test_spent_of_a_node_without_limits_is_read_from_the_ledger() -> None:
    meter = Meter(Budget())
    call(meter, local(), node="a", prompt=3)
    call(meter, local(), node="b", prompt=4)
    assert meter.spent(node="a")["local_tokens"] == 8
    assert meter.spent(node="b")["local_tokens"] == 9


def test_spent_of_a_node_without_limits_follows_later_calls() -> None:
    meter = Meter(Budget())
    assert meter.spent(node="a")["calls"] == 0
    call(meter, local(), node="a")
    assert meter.spent(node="a")["calls"] == 1


def test_raising_limits_of_a_node_without_limits_enforces_them() -> None:
    meter = Meter(Budget())
    meter.raise_limits({"calls": 1}, scope=LimitScope("node", "new"))
    assert meter.budget.per_node["new"].calls == 1
    call(meter, local(), node="new")
    with pytest.raises(BudgetExceeded):
        meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="new")


def test_raise_limits_on_the_run_and_on_a_node() -> None:
    meter = Meter(Budget(calls=1, per_node={"draft": Budget(calls=1)}))
    call(meter, local(), node="draft")
    meter.raise_limits({"calls": 2})
    with pytest.raises(BudgetExceeded) as caught:  # the run has room, the node not yet
        meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="draft")
    assert caught.value.scope == "node 'draft'"  # type: ignore[attr-defined]
    meter.raise_limits({"calls": None}, scope=LimitScope("node", "draft"))
    call(meter, local(), node="draft")
    assert meter.budget.calls == 2
    assert meter.budget.per_node["draft"].calls is None
    with pytest.raises(UserError, match="no limit named 'dollars'"):
        meter.raise_limits({"dollars": 1.0})


def test_an_earlier_ledger_counts_as_spent() -> None:
    earlier = Ledger(
        run_id="r1",
        records=[
            CallRecord(
                model="big",
                kind="remote",
                prompt_tokens=10,
                completion_tokens=10,
                cost_usd=0.04,
                node="draft",
            ),
            CallRecord(model="big", kind="remote", cost_usd=0.5, outcome="refused"),
        ],
    )
    meter = Meter(Budget(usd=0.05, per_node={"draft": Budget(remote_tokens=25)}), ledger=earlier)
    assert meter.run_id == "r1"
    assert meter.spent()["usd"] == pytest.approx(0.04)  # the refused one cost nothing
    assert meter.spent()["calls"] == 1
    with pytest.raises(BudgetExceeded):
        meter.reserve(remote(), prompt_tokens=6, max_tokens=5)  # $0.011 > $0.01 left
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=3, max_tokens=3, node="draft")  # 20 + 6 > 25
    assert caught.value.scope == "node 'draft'"  # type: ignore[attr-defined]
    meter.reserve(remote(), prompt_tokens=5, max_tokens=5)  # $0.01: exactly what is left


# --- pricing -----------------------------------------------------------------------------


@pytest.fixture
def priced() -> Iterator[str]:
    name = "acme/test-priced-model"
    set_price(name, ModelPrice(input_per_mtok_usd=1000.0, output_per_mtok_usd=2000.0))
    yield name
    set_price(name, None)


def test_usd_limit_on_an_unpriced_remote_model_says_how_to_price_it() -> None:
    model = ScriptedModel(["x"], name="acme/no-price-anywhere", kind="remote")
    meter = Meter(Budget(usd=1.0), costing=Costing(price=lambda *_: None))
    with pytest.raises(UserError) as caught:
        meter.reserve(model, prompt_tokens=5, max_tokens=5)
    assert "'acme/no-price-anywhere' has no price" in caught.value.message
    assert "collab.set_price('acme/no-price-anywhere', ModelPrice(" in caught.value.hint
    assert meter.reserved()["calls"] == 0


def test_an_unpriced_remote_model_is_fine_when_usd_is_not_limited() -> None:
    model = ScriptedModel(lambda _: "x", name="acme/no-price-anywhere", kind="remote")
    meter = Meter(Budget(remote_tokens=100), costing=Costing(price=lambda *_: None))
    call(meter, model)
    assert meter.spent()["remote_tokens"] == 6


def test_set_price_prices_the_worst_case_and_the_settled_call(priced: str) -> None:
    model = ScriptedModel(["x"], name=priced, kind="remote")
    meter = Meter(Budget(usd=0.05))
    # 10 prompt tokens at $1000/M + 20 completion tokens at $2000/M = $0.05: exactly fits.
    reservation = meter.reserve(model, prompt_tokens=10, max_tokens=20)
    assert meter.reserved()["usd"] == pytest.approx(0.05)
    billed = Completion(
        text="x",
        model=priced,
        kind="remote",
        cost_usd=None,
        usage=Usage(prompt_tokens=10, completion_tokens=5),
    )
    record = meter.settle(reservation, billed, latency_s=0.0, cpu_s=0.0)
    assert record.cost_usd == pytest.approx(0.02)  # 0.01 + 0.01
    assert meter.spent()["usd"] == pytest.approx(0.02)
    with pytest.raises(BudgetExceeded):
        meter.reserve(model, prompt_tokens=10, max_tokens=20)


def test_cost_per_token_prices_the_worst_case() -> None:
    meter = Meter(Budget(usd=1.0))
    meter.reserve(remote(rate=0.01), prompt_tokens=7, max_tokens=13)
    assert meter.reserved()["usd"] == pytest.approx(0.2)


def test_a_price_function_prices_calls() -> None:
    seen: list[tuple[str, int, int]] = []

    def price(model: str, prompt: int, completion: int) -> float:
        seen.append((model, prompt, completion))
        return prompt * 0.001 + completion * 0.002

    model = ScriptedModel(lambda _: words(4), name="acme/fn", kind="remote")
    meter = Meter(Budget(usd=1.0), costing=Costing(price=price))
    record = call(meter, model, prompt=3, max_tokens=10)
    assert seen == [("acme/fn", 3, 10), ("acme/fn", 3, 4)]
    assert record.cost_usd == pytest.approx(0.011)


# --- failures ----------------------------------------------------------------------------


def test_fail_records_an_error_and_settles_the_billed_usage() -> None:
    meter = Meter(Budget(usd=0.1, remote_tokens=100))
    model = remote()
    reservation = meter.reserve(model, prompt_tokens=10, max_tokens=40)
    billed = Completion(
        text="{bad",
        model="big",
        kind="remote",
        cost_usd=0.03,
        usage=Usage(prompt_tokens=10, completion_tokens=20),
    )
    record = meter.fail(reservation, ValueError("not JSON"), billed=billed, latency_s=1.5)
    assert record.outcome == "error"
    assert record.error == "ValueError: not JSON"
    assert (record.prompt_tokens, record.completion_tokens) == (10, 20)
    assert record.cost_usd == pytest.approx(0.03)
    assert record.latency_s == 1.5
    assert meter.spent()["usd"] == pytest.approx(0.03)
    assert meter.spent()["remote_tokens"] == 30
    assert meter.spent()["calls"] == 1
    assert meter.reserved() == dict.fromkeys(LIMIT_NAMES, 0.0)
    assert meter.ledger.records == [record]


def test_fail_with_billed_usd_counts_against_the_budget() -> None:
    meter = Meter(Budget(usd=0.05))
    model = remote()
    reservation = meter.reserve(model, prompt_tokens=10, max_tokens=40)
    record = meter.fail(reservation, TimeoutError("slow"), billed_usd=0.04)
    assert record.cost_usd == pytest.approx(0.04)
    assert (record.prompt_tokens, record.completion_tokens) == (0, 0)
    assert meter.spent()["usd"] == pytest.approx(0.04)
    meter.reserve(model, prompt_tokens=5, max_tokens=5)  # $0.01: exactly what is left
    with pytest.raises(BudgetExceeded):
        meter.reserve(model, prompt_tokens=1, max_tokens=0)


def test_fail_with_nothing_billed_still_counts_as_a_call() -> None:
    meter = Meter(Budget(calls=1, usd=1.0))
    reservation = meter.reserve(remote(), prompt_tokens=10, max_tokens=40)
    record = meter.fail(reservation, ConnectionError("down"))
    assert (record.outcome, record.cost_usd) == ("error", 0.0)
    assert meter.spent()["usd"] == 0
    with pytest.raises(BudgetExceeded):
        meter.reserve(remote(), prompt_tokens=1, max_tokens=1)


# --- events ------------------------------------------------------------------------------


def test_events_announce_each_call_and_its_record() -> None:
    meter = Meter(Budget(usd=1.0, calls=1), run_id="run-7")
    events: list[Event] = []
    unsubscribe = meter.on_event(events.append)
    record = call(meter, remote(), prompt=5, max_tokens=15, node="n", role="drafter")
    with pytest.raises(BudgetExceeded):
        meter.reserve(remote(), prompt_tokens=1, max_tokens=1)
    started, ended, refused = events
    assert isinstance(started, CallStarted)
    assert (started.run_id, started.node, started.role, started.model) == (
        "run-7",
        "n",
        "drafter",
        "big",
    )
    assert (started.prompt_tokens, started.max_tokens, started.kind) == (5, 15, "remote")
    assert started.reserved_usd == pytest.approx(0.02)
    assert ended == record and ended.run_id == "run-7"
    assert isinstance(refused, CallRecord) and refused.outcome == "refused"
    unsubscribe()
    meter.raise_limits({"calls": None})
    call(meter, remote())
    assert len(events) == 3


def test_a_failing_event_callback_does_not_fail_the_call() -> None:
    meter = Meter(Budget(calls=5))

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    meter.on_event(broken)
    record = call(meter, local())
    assert record.outcome == "ok" and meter.spent()["calls"] == 1


# --- concurrency -------------------------------------------------------------------------

WORKERS = 50
CAP_USD = 0.1
"""Ten worst-case calls of 5 prompt + 5 max tokens at $0.001 per token."""


def _watch_spent(meter: Meter) -> list[float]:
    """The run's spent USD as seen at every event (from the thread that emitted it)."""
    seen: list[float] = []

    def on_event(event: Event) -> None:
        seen.append(meter.spent()["usd"])

    meter.on_event(on_event)
    return seen


def _check_exactly_ten(meter: Meter, outcomes: list[bool], seen: list[float]) -> None:
    assert outcomes.count(True) == 10
    assert outcomes.count(False) == WORKERS - 10
    assert meter.spent()["usd"] == pytest.approx(CAP_USD)
    assert meter.spent()["usd"] <= CAP_USD + 1e-12
    assert meter.spent()["calls"] == 10
    assert meter.reserved() == dict.fromkeys(LIMIT_NAMES, 0.0)
    assert len(seen) == 10 + WORKERS  # 10 starts, 10 settles, 40 refusals
    assert max(seen) <= CAP_USD + 1e-12
    outcomes_in_ledger = [r.outcome for r in meter.ledger.records]
    assert outcomes_in_ledger.count("ok") == 10
    assert outcomes_in_ledger.count("refused") == WORKERS - 10
    settled = sum(r.cost_usd or 0.0 for r in meter.ledger.records)
    assert settled == pytest.approx(CAP_USD)


@pytest.mark.parametrize(
    "budget",
    [Budget(usd=CAP_USD), Budget(per_node={"n": Budget(usd=CAP_USD)})],
    ids=["run", "node"],
)
def test_parallel_threads_never_overspend(budget: Budget) -> None:
    meter = Meter(budget)
    model = remote(reply_words=5)
    seen = _watch_spent(meter)
    barrier = threading.Barrier(WORKERS)
    scope: dict[str, str] = {} if budget.usd else {"node": "n"}

    def worker() -> bool:
        barrier.wait()
        try:
            reservation = meter.reserve(model, prompt_tokens=5, max_tokens=5, node="n")
        except BudgetExceeded:
            return False
        completion = reservation.model.complete(words(5))
        meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)
        return True

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(lambda _: worker(), range(WORKERS)))
    _check_exactly_ten(meter, outcomes, seen)
    assert meter.spent(**scope)["usd"] == pytest.approx(CAP_USD)


async def test_concurrent_tasks_never_overspend() -> None:
    meter = Meter(Budget(usd=CAP_USD))
    model = remote(reply_words=5)
    seen = _watch_spent(meter)

    async def task() -> bool:
        try:
            reservation = meter.reserve(model, prompt_tokens=5, max_tokens=5)
        except BudgetExceeded:
            return False
        await asyncio.sleep(0)
        completion = await reservation.model.acomplete(words(5))
        meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)
        return True

    outcomes = list(await asyncio.gather(*(task() for _ in range(WORKERS))))
    _check_exactly_ten(meter, outcomes, seen)
