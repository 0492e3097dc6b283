"""Metering overhead: per model call, and per graph node, side by side in one run.

(a) ``collab.metered(ScriptedModel).complete`` inside ``collab.Run`` with a USD and a call
    budget (reserve, price, settle, ledger) against the bare model's call; target < 50 us
    per call.
(b) a 10-node LangGraph chain: ``collab.graph.node`` wrapped nodes inside a budgeted ``Run``
    against plain nodes with no run, both doing the same state update; target ratio <= 1.15.
(c) the same chain with one scripted model call per node, metered against unmetered: the
    worst case, reported for information (a real model call takes milliseconds, not the
    microseconds of a scripted one, and (a) already gives the metering cost per call).

The two sides alternate in rounds and the medians are compared, so a busy machine slows
both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from bench.report import Row, report
from collab import Budget, Run, ScriptedModel, metered
from collab.graph import node

ROUNDS = 15
CALLS_PER_ROUND = 2_000
GRAPH_RUNS_PER_ROUND = 40
NODES = 10


def _model() -> ScriptedModel:
    return ScriptedModel(
        lambda _: "a short scripted answer", name="bench", kind="remote", cost_per_token_usd=1e-6
    )


def _budget() -> Budget:
    return Budget(usd=1e9, calls=10**9, remote_tokens=10**12)


def _per_call_s(fn: Callable[[], None], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def call_overhead() -> tuple[float, float]:
    """Median seconds per call: metered, unmetered."""
    model = _model()
    wrapped = metered(model)
    prompt = "what is the capital of france"

    def bare() -> None:
        model.complete(prompt, max_tokens=16)

    def one() -> None:
        wrapped.complete(prompt, max_tokens=16)

    ours, plain = [], []
    for _ in range(ROUNDS):
        plain.append(_per_call_s(bare, CALLS_PER_ROUND))
        with Run(budget=_budget()):
            ours.append(_per_call_s(one, CALLS_PER_ROUND))
        model.calls.clear()
    return statistics.median(ours), statistics.median(plain)


class Chain(TypedDict):
    text: str


def _chain(model: ScriptedModel | None, *, wrapped: bool) -> Any:
    called = metered(model) if wrapped and model is not None else model

    def step(state: Chain) -> dict[str, str]:
        if called is None:
            return {"text": state["text"]}
        return {"text": called.complete(state["text"], max_tokens=16).text}

    builder = StateGraph(Chain)
    previous = START
    for i in range(NODES):
        name = f"n{i}"
        builder.add_node(name, node(step) if wrapped else step)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile()


def node_overhead(model: ScriptedModel | None) -> tuple[float, float]:
    """Median seconds per node: collab-wrapped in a budgeted run, plain LangGraph."""
    plain_graph, wrapped_graph = _chain(model, wrapped=False), _chain(model, wrapped=True)

    def plain() -> None:
        plain_graph.invoke({"text": "start"})

    def wrapped() -> None:
        with Run(budget=_budget()):
            wrapped_graph.invoke({"text": "start"})

    ours, base = [], []
    for _ in range(ROUNDS):
        base.append(_per_call_s(plain, GRAPH_RUNS_PER_ROUND) / NODES)
        ours.append(_per_call_s(wrapped, GRAPH_RUNS_PER_ROUND) / NODES)
        if model is not None:
            model.calls.clear()
    return statistics.median(ours), statistics.median(base)


def run() -> None:
    metered, plain = call_overhead()
    overhead_us = (metered - plain) * 1e6
    wrapped, bare = node_overhead(None)
    with_call, without = node_overhead(_model())
    rows = [
        Row(
            "metering per call (ScriptedModel)",
            metered * 1e6,
            plain * 1e6,
            "us",
            None,
            "< 50 us added",
            overhead_us < 50,
            f"{overhead_us:.1f} us added per call",
        ),
        Row(
            "collab node vs plain LangGraph node",
            wrapped * 1e6,
            bare * 1e6,
            "us",
            wrapped / bare,
            "<= 1.15",
            wrapped / bare <= 1.15,
            f"{NODES}-node chain in a budgeted Run",
        ),
        Row(
            "same, one scripted call per node",
            with_call * 1e6,
            without * 1e6,
            "us",
            with_call / without,
            "info",
            None,
            "worst case: a real call takes ms",
        ),
    ]
    report("collab metering overhead", rows, "metering.json")


if __name__ == "__main__":
    run()
