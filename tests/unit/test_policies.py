"""Budget policies: what the meter does with a call that does not fit.

Built-in policies (raise, degrade, interrupt), user policies written as plain functions, and
``Interrupt`` inside a real LangGraph graph with a checkpointer.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TypedDict

import pytest

from collab.budget.ledger import CallRecord
from collab.budget.limits import Budget, LimitScope
from collab.budget.meter import Meter
from collab.budget.policies import (
    Decision,
    Degrade,
    Exceeded,
    Interrupt,
    Proceed,
    Raise,
    RaiseLimits,
    UseModel,
)
from collab.errors import BudgetExceeded, UserError
from collab.events import CallStarted, Event
from collab.models.scripted import ScriptedModel

RATE = 0.001
"""USD per token of the scripted remote model: 10 tokens cost $0.01."""


def words(n: int) -> str:
    return " ".join(["w"] * n)


def remote(name: str = "big", *, reply_words: int = 5) -> ScriptedModel:
    return ScriptedModel(
        lambda _: words(reply_words), name=name, kind="remote", cost_per_token_usd=RATE
    )


def local(name: str = "small", *, reply_words: int = 3) -> ScriptedModel:
    return ScriptedModel(lambda _: words(reply_words), name=name, kind="local")


def call(meter: Meter, model: ScriptedModel, *, prompt: int = 5, max_tokens: int = 5) -> CallRecord:
    """Reserve, call the model the meter chose, settle."""
    reservation = meter.reserve(model, prompt_tokens=prompt, max_tokens=max_tokens)
    completion = reservation.model.complete(words(prompt))
    return meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)


# --- raise -------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["raise", Raise()], ids=["name", "object"])
def test_raise_refuses_with_a_hint(policy: str | Raise) -> None:
    meter = Meter(Budget(usd=0.01, policy=policy))  # type: ignore[arg-type]
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=5, max_tokens=6)
    assert "with_limits" in caught.value.hint and "degrade" in caught.value.hint
    assert meter.ledger.records[-1].outcome == "refused"
    assert meter.reserved()["usd"] == 0


# --- degrade -----------------------------------------------------------------------------


def test_degrade_routes_a_remote_call_to_the_runs_local_model() -> None:
    big, small = remote("big"), local("small", reply_words=3)
    meter = Meter(Budget(usd=0.01, policy="degrade"), local_model=small)
    events: list[Event] = []
    meter.on_event(events.append)
    # Prompt tokens are counted again with the chosen model (here: its own count).
    reservation = meter.reserve(big, prompt_tokens=lambda m: 4 if m is small else 9, max_tokens=6)
    assert reservation.model is small and reservation.original is big
    assert meter.reserved()["local_tokens"] == 10
    assert meter.reserved()["usd"] == 0
    completion = reservation.model.complete(words(4))
    record = meter.settle(reservation, completion, latency_s=0.2, cpu_s=0.1)
    assert (record.outcome, record.model, record.original_model, record.kind) == (
        "degraded",
        "small",
        "big",
        "local",
    )
    assert record.cost_usd == 0.0
    assert meter.spent()["usd"] == 0 and meter.spent()["local_tokens"] == 7
    started = events[0]
    assert isinstance(started, CallStarted)
    assert (started.model, started.original_model, started.prompt_tokens) == ("small", "big", 4)
    assert big.calls == [] and len(small.calls) == 1


def test_degrade_to_a_given_model_wins_over_the_runs() -> None:
    tiny = local("tiny")
    meter = Meter(Budget(remote_tokens=5, policy=Degrade(to=tiny)), local_model=local("small"))
    record = call(meter, remote(), prompt=5, max_tokens=5)
    assert (record.model, record.original_model, record.outcome) == ("tiny", "big", "degraded")


def test_a_call_that_fits_is_not_degraded() -> None:
    meter = Meter(Budget(usd=1.0, policy="degrade"), local_model=local())
    record = call(meter, remote())
    assert (record.model, record.original_model, record.outcome) == ("big", None, "ok")


def test_degrade_without_a_local_model_says_how_to_give_it_one() -> None:
    meter = Meter(Budget(usd=0.01, policy="degrade"))
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=5, max_tokens=6)
    assert "Degrade(to=" in caught.value.hint and "local_model" in caught.value.hint
    refused = meter.ledger.records[-1]
    assert (refused.outcome, refused.model, refused.original_model) == ("refused", "big", None)


def test_degrade_refuses_a_local_call_that_does_not_fit() -> None:
    small = local("small")
    meter = Meter(Budget(local_tokens=10, policy="degrade"), local_model=small)
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(small, prompt_tokens=6, max_tokens=5)
    assert "'small' is already local" in caught.value.hint


def test_degraded_call_that_does_not_fit_either_is_refused_naming_both() -> None:
    small = local("small")
    meter = Meter(Budget(calls=1, policy="degrade"), local_model=small)
    call(meter, remote())
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=5, max_tokens=5)
    assert "'small' is already local" in caught.value.hint
    refused = meter.ledger.records[-1]
    assert (refused.outcome, refused.model, refused.original_model) == ("refused", "small", "big")
    assert meter.spent()["calls"] == 1


# --- user policies -----------------------------------------------------------------------


def test_a_plain_function_can_let_one_call_through() -> None:
    asked: list[Exceeded] = []

    def allow_once(exceeded: Exceeded) -> Decision:
        if asked:
            raise exceeded.error(hint="only one call over the limit")
        asked.append(exceeded)
        return Proceed()

    meter = Meter(Budget(calls=1, policy=allow_once))
    call(meter, remote())
    over = call(meter, remote())
    assert over.outcome == "ok"
    assert meter.spent()["calls"] == 2  # over the limit, as the policy decided
    (situation,) = asked
    assert (situation.limit_name, situation.limit, situation.spent, situation.needed) == (
        "calls",
        1,
        1,
        1,
    )
    assert situation.scope == LimitScope("run") and situation.model.name == "big"
    with pytest.raises(BudgetExceeded, match="only one call over the limit"):
        meter.reserve(remote(), prompt_tokens=1, max_tokens=1)
    assert meter.ledger.records[-1].outcome == "refused"


def test_a_plain_function_can_raise_the_limit_that_was_hit() -> None:
    def top_up(exceeded: Exceeded) -> Decision:
        return RaiseLimits({exceeded.limit_name: exceeded.spent + exceeded.needed})

    meter = Meter(Budget(usd=0.01, policy=top_up))
    call(meter, remote(), prompt=5, max_tokens=5)  # $0.01: fits
    call(meter, remote(), prompt=10, max_tokens=10)  # $0.02 more: the limit goes to $0.03
    assert meter.budget.usd == pytest.approx(0.03)
    assert meter.spent()["usd"] == pytest.approx(0.025)  # 0.01 + (10 + 5) tokens


def test_raise_limits_without_a_scope_changes_the_exceeded_scope() -> None:
    meter = Meter(
        Budget(per_node={"n": Budget(calls=1)}, policy=lambda e: RaiseLimits({"calls": 5}))
    )
    for _ in range(2):
        reservation = meter.reserve(local(), prompt_tokens=1, max_tokens=1, node="n")
        meter.fail(reservation, RuntimeError("x"))
    assert meter.budget.per_node["n"].calls == 5
    assert meter.budget.calls is None


def test_raise_limits_with_a_scope_changes_that_scope() -> None:
    meter = Meter(
        Budget(
            calls=1,
            per_node={"n": Budget(calls=1)},
            policy=lambda e: RaiseLimits({"calls": 10}, scope=LimitScope("node", "n")),
        )
    )
    call(meter, local())
    # The run's limit is hit; raising the node's limit instead never makes the call fit.
    with pytest.raises(BudgetExceeded, match="model-call budget of run") as caught:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1)
    assert "decided 8 times" in caught.value.hint
    assert meter.budget.per_node["n"].calls == 10
    assert meter.ledger.records[-1].outcome == "refused"


def test_a_policy_can_choose_another_remote_model() -> None:
    cheap = ScriptedModel(lambda _: "ok", name="cheap", kind="remote", cost_per_token_usd=1e-5)
    meter = Meter(Budget(usd=0.01, policy=lambda e: UseModel(cheap)))
    record = call(meter, remote(), prompt=100, max_tokens=100)
    assert (record.model, record.original_model, record.kind) == ("cheap", "big", "remote")
    assert record.cost_usd == pytest.approx(101 * 1e-5)


@pytest.mark.parametrize("garbage", [None, "yes", True, {"usd": 1.0}])
def test_a_policy_returning_something_else_is_a_user_error(garbage: object) -> None:
    meter = Meter(Budget(calls=0, policy=lambda e: garbage))  # type: ignore[arg-type,return-value]
    with pytest.raises(UserError, match=re.escape(f"returned {garbage!r}")) as caught:
        meter.reserve(local(), prompt_tokens=1, max_tokens=1)
    assert "Proceed()" in caught.value.hint
    assert meter.reserved()["calls"] == 0 and meter.spent()["calls"] == 0


def test_a_policy_that_never_makes_the_call_fit_is_stopped() -> None:
    meter = Meter(Budget(usd=0.01, policy=lambda e: RaiseLimits({e.limit_name: e.limit})))
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=10, max_tokens=10)
    assert "decided 8 times" in caught.value.hint
    assert [r.outcome for r in meter.ledger.records] == ["refused"]


def test_exceeded_payload_is_json_and_names_the_numbers() -> None:
    seen: list[dict[str, object]] = []

    def record_payload(exceeded: Exceeded) -> Decision:
        seen.append(json.loads(json.dumps(exceeded.payload())))
        raise exceeded.error()

    meter = Meter(Budget(remote_tokens=20, policy=record_payload))
    meter.reserve(remote(), prompt_tokens=5, max_tokens=3, node="n", role="drafter")
    with pytest.raises(BudgetExceeded):
        meter.reserve(remote(), prompt_tokens=5, max_tokens=8, node="n", role="drafter")
    (payload,) = seen
    assert payload["type"] == "budget_exceeded"
    assert (payload["limit_name"], payload["scope"], payload["model"]) == (
        "remote_tokens",
        "run",
        "big",
    )
    assert (payload["limit"], payload["spent"], payload["reserved"], payload["needed"]) == (
        20,
        0,
        8,
        13,
    )
    assert (payload["node"], payload["role"]) == ("n", "drafter")
    assert "Command(resume=" in str(payload["resume"])


# --- interrupt ---------------------------------------------------------------------------


def test_interrupt_before_any_graph_ran_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "langgraph", raising=False)
    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=5, max_tokens=6)
    assert "LangGraph node" in caught.value.hint
    assert meter.ledger.records[-1].outcome == "refused"


def test_interrupt_outside_a_graph_raises() -> None:
    import langgraph.types  # noqa: F401  (a graph could have run in this process)

    meter = Meter(Budget(usd=0.01, policy=Interrupt()))
    with pytest.raises(BudgetExceeded) as caught:
        meter.reserve(remote(), prompt_tokens=5, max_tokens=6)
    assert "LangGraph node" in caught.value.hint
    assert meter.ledger.records[-1].outcome == "refused"


class _State(TypedDict):
    answer: str


def _graph(meter: Meter, model: ScriptedModel, *, checkpointer: bool = True):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    def ask(state: _State) -> _State:
        reservation = meter.reserve(model, prompt_tokens=5, max_tokens=10)  # $0.015
        completion = reservation.model.complete(words(5))
        meter.settle(reservation, completion, latency_s=0.0, cpu_s=0.0)
        return {"answer": completion.text}

    builder = StateGraph(_State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=InMemorySaver() if checkpointer else None)


def test_interrupt_in_a_graph_without_a_checkpointer_raises() -> None:
    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    graph = _graph(meter, remote(), checkpointer=False)
    with pytest.raises(BudgetExceeded):
        graph.invoke({"answer": ""})
    assert meter.ledger.records[-1].outcome == "refused"


def _interrupted(meter: Meter, thread: str):
    model = remote(reply_words=5)
    graph = _graph(meter, model)
    config = {"configurable": {"thread_id": thread}}
    result = graph.invoke({"answer": ""}, config)
    return graph, config, result, model


def test_interrupt_stops_the_graph_with_the_situation() -> None:
    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    _, _, result, model = _interrupted(meter, "stop")
    (interrupt,) = result["__interrupt__"]
    payload = interrupt.value
    assert (payload["limit_name"], payload["scope"], payload["model"]) == ("usd", "run", "big")
    assert payload["limit"] == pytest.approx(0.01)
    assert payload["spent"] == 0
    assert payload["needed"] == pytest.approx(0.015)
    assert "remote USD budget of run exhausted" in payload["message"]
    assert model.calls == [] and len(meter.ledger) == 0  # waiting: nothing made or refused
    assert meter.reserved()["usd"] == 0


def test_resuming_with_a_new_limit_raises_it_and_completes() -> None:
    from langgraph.types import Command

    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    graph, config, _, model = _interrupted(meter, "raise")
    result = graph.invoke(Command(resume={"usd": 1.0}), config)
    assert result["answer"] == words(5)
    assert "__interrupt__" not in result
    assert meter.budget.usd == 1.0
    assert [r.outcome for r in meter.ledger.records] == ["ok"]
    assert meter.spent()["usd"] == pytest.approx(0.01)
    assert len(model.calls) == 1


def test_resuming_with_approval_lets_the_call_through_once() -> None:
    from langgraph.types import Command

    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    graph, config, _, _ = _interrupted(meter, "approve")
    result = graph.invoke(Command(resume={"approve": True}), config)
    assert result["answer"] == words(5)
    assert meter.budget.usd == 0.01  # the limit stays
    assert meter.spent()["usd"] == pytest.approx(0.01)


def test_resuming_with_a_refusal_raises_budget_exceeded() -> None:
    from langgraph.types import Command

    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    graph, config, _, model = _interrupted(meter, "refuse")
    with pytest.raises(BudgetExceeded) as caught:
        graph.invoke(Command(resume={"approve": False}), config)
    assert "refused when the run was resumed" in caught.value.hint
    assert [r.outcome for r in meter.ledger.records] == ["refused"]
    assert model.calls == []


@pytest.mark.parametrize(
    ("answer", "match"), [("more please", "resumed with 'more please'"), ({"cash": 1}, "cash")]
)
def test_resuming_with_nonsense_is_a_user_error(answer: object, match: str) -> None:
    from langgraph.types import Command

    meter = Meter(Budget(usd=0.01, policy="interrupt"))
    graph, config, _, _ = _interrupted(meter, f"nonsense-{match}")
    with pytest.raises(UserError, match=match):
        graph.invoke(Command(resume=answer), config)
