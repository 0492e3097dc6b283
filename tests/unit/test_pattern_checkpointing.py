"""Every pattern's graph state checkpoints as plain JSON: no type LangGraph has not registered.

LangGraph logs "Deserializing unregistered type ..." (once per type and process) when a
checkpoint holds an object of a type it does not know, and emits a serde event every time;
the events are what these tests watch, so that the order tests run in does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

import pytest
from collab.patterns.common import PatternResult, ReadResult, Verdict, result_from, run_graph
from collab.patterns.slm_judges_llm import Attempt
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from collab import ScriptedModel
from collab.patterns import cascade, draft_verify, llm_judges_slm, router, slm_judges_llm

GRADE = '{"score": 5, "reason": "right"}'


def slm() -> ScriptedModel:
    return ScriptedModel(
        lambda _: "Paris", name="slm", kind="local", scores=lambda _p, _o: [0.9, 0.1]
    )


def llm(reply: str = "Paris") -> ScriptedModel:
    return ScriptedModel(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)


Case = tuple[Callable[[], Any], dict[str, Any], ReadResult]
CASES: dict[str, Case] = {
    "cascade": (
        lambda: cascade.build(slm=slm(), llm=llm()),
        {"question": "Capital of France?"},
        result_from,
    ),
    "router": (
        lambda: router.build(slm=slm(), llm=llm()),
        {"question": "Capital of France?"},
        result_from,
    ),
    "draft_verify": (
        lambda: draft_verify.build(slm=slm(), llm=llm("ACCEPT")),
        {"question": "Capital of France?"},
        result_from,
    ),
    "llm_judges_slm": (
        lambda: llm_judges_slm.build(slm=slm(), llm=llm(GRADE)),
        {"question": "Capital of France?", "reference": "Paris"},
        result_from,
    ),
    "slm_judges_llm": (
        lambda: slm_judges_llm.build(slm=slm(), llm=llm()),
        {"question": "Capital of France?", "sources": ["Paris is the capital of France."]},
        slm_judges_llm.result_of,
    ),
}


@pytest.fixture
def serde_events() -> Iterator[list[SerdeEvent]]:
    """Every type the checkpointer's deserializer let through or blocked, while the test runs."""
    events: list[SerdeEvent] = []
    unregister = register_serde_event_listener(events.append)
    yield events
    unregister()


def checkpointed(graph: Any) -> Any:
    """The same graph, compiled with an in-memory checkpointer."""
    return graph.builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("name", list(CASES))
def test_a_checkpointed_pattern_loads_no_unregistered_type(
    name: str, serde_events: list[SerdeEvent], caplog: pytest.LogCaptureFixture
) -> None:
    build, inputs, read = CASES[name]
    graph = checkpointed(build())
    config = {"configurable": {"thread_id": f"thread-{name}"}}
    with caplog.at_level(logging.WARNING):
        first = run_graph(graph, inputs, config, read=read)
        # The second invocation of the thread loads the first one's checkpoint.
        second = run_graph(graph, inputs, config, read=read)
        saved = graph.get_state(config).values
    assert serde_events == []
    assert "unregistered type" not in caplog.text
    assert first.answer == second.answer != ""
    assert saved["answer"] == first.answer
    assert_typed(first)


def assert_typed(result: PatternResult) -> None:
    """The result has models where the state has dicts."""
    assert all(isinstance(v, Verdict) for v in result.verdicts)
    for attempt in result.details.get("attempts", []):
        assert isinstance(attempt, Attempt)
        assert all(isinstance(v, Verdict) for v in attempt.verdicts)


@pytest.mark.parametrize("name", ["cascade", "llm_judges_slm", "slm_judges_llm"])
def test_the_judging_patterns_results_have_verdicts(name: str) -> None:
    build, inputs, read = CASES[name]
    config = {"configurable": {"thread_id": "t"}}
    result = run_graph(checkpointed(build()), inputs, config, read=read)
    assert result.verdicts and all(isinstance(v, Verdict) for v in result.verdicts)
    if name == "slm_judges_llm":
        [attempt] = result.details["attempts"]
        assert isinstance(attempt, Attempt) and attempt.verdicts == result.verdicts


class _Unregistered(BaseModel):
    value: int


def test_the_check_sees_a_model_in_the_state(serde_events: list[SerdeEvent]) -> None:
    """The detector works: a pydantic model in a checkpointed state is an event."""

    class State(TypedDict, total=False):
        item: _Unregistered

    builder = StateGraph(State)
    builder.add_node("put", lambda _state: {"item": _Unregistered(value=1)})
    builder.add_edge(START, "put")
    builder.add_edge("put", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({}, config)
    graph.get_state(config)
    assert {e["name"] for e in serde_events} == {"_Unregistered"}
