"""``collab.graph``: metered nodes in sync and async graphs, ``Send`` branches and subgraphs."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send

import collab
from collab import Budget, BudgetExceeded, Run, ScriptedModel
from collab.events import NodeEnded, NodeStarted
from collab.graph import RUN_CONFIG_KEY, LedgerState, invoke, ledger_of, node


def remote(rate: float = 0.001) -> ScriptedModel:
    return collab.metered(
        ScriptedModel(
            lambda _: "four words of answer", name="big", kind="remote", cost_per_token_usd=rate
        )
    )


class QA(LedgerState):
    question: str
    draft: str
    answer: str


def qa_graph(slm: ScriptedModel, llm: ScriptedModel, checkpointer: Any = None) -> Any:
    @node(role="drafter")
    def draft(state: QA) -> dict[str, Any]:
        return {"draft": slm.complete(state["question"]).text}

    @node(role="verifier")
    def verify(state: QA) -> dict[str, Any]:
        return {"answer": llm.complete(f"check {state['draft']}", max_tokens=8).text}

    builder = StateGraph(QA)
    builder.add_node("draft", draft)
    builder.add_node("verify", verify)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "verify")
    builder.add_edge("verify", END)
    return builder.compile(checkpointer=checkpointer)


def test_nodes_record_their_calls_under_node_and_role() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    graph = qa_graph(slm, remote())
    events: list[Any] = []
    with Run() as run:
        run.on_event(events.append)
        out = graph.invoke({"question": "what is up"})
    records = run.ledger.records
    assert [(r.node, r.role, r.model) for r in records] == [
        ("draft", "drafter", "small"),
        ("verify", "verifier", "big"),
    ]
    assert ledger_of(out).records == records  # the ledger travels in the graph's state
    nodes = [(type(e).__name__, e.node) for e in events if isinstance(e, NodeStarted | NodeEnded)]
    assert nodes == [
        ("NodeStarted", "draft"),
        ("NodeEnded", "draft"),
        ("NodeStarted", "verify"),
        ("NodeEnded", "verify"),
    ]
    ended = [e for e in events if isinstance(e, NodeEnded)]
    assert ended[1].calls == 1 and ended[1].cost_usd == pytest.approx(records[1].cost_usd)


def test_per_node_limit_applies_to_that_node_only() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    graph = qa_graph(slm, remote())
    budget = Budget(per_node={"verify": Budget(remote_tokens=5)})
    with Run(budget=budget), pytest.raises(BudgetExceeded, match="node 'verify'"):
        graph.invoke({"question": "what is up"})
    assert len(slm.calls) == 1


def test_run_passed_in_config_meters_without_being_entered() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    run = Run()
    qa_graph(slm, remote()).invoke({"question": "q"}, {"configurable": {RUN_CONFIG_KEY: run}})
    assert [r.node for r in run.ledger.records] == ["draft", "verify"]


class FanOut(TypedDict):
    n: int
    results: Annotated[list[str], operator.add]


class Branch(TypedDict):
    i: int


def fan_out_graph(llm: ScriptedModel, *, use_async: bool) -> Any:
    def call(i: int) -> str:
        try:
            return llm.complete(f"item {i}", max_tokens=4).text and "ok"
        except BudgetExceeded:
            return "refused"

    async def acall(i: int) -> str:
        try:
            return (await llm.acomplete(f"item {i}", max_tokens=4)).text and "ok"
        except BudgetExceeded:
            return "refused"

    @node
    def work(state: Branch) -> dict[str, Any]:
        return {"results": [call(state["i"])]}

    @node
    async def awork(state: Branch) -> dict[str, Any]:
        return {"results": [await acall(state["i"])]}

    def spread(state: FanOut) -> list[Send]:
        return [Send("work", {"i": i}) for i in range(state["n"])]

    builder = StateGraph(FanOut)
    builder.add_node("work", awork if use_async else work)
    builder.add_conditional_edges(START, spread, ["work"])
    builder.add_edge("work", END)
    return builder.compile()


@pytest.mark.parametrize("limit", ["usd", "calls"])
def test_fifty_send_branches_make_at_most_ten_calls(limit: str) -> None:
    llm = remote(rate=0.001)  # "item N" + 4 tokens = 6 tokens = $0.006, exactly what it settles
    budget = Budget(usd=0.06) if limit == "usd" else Budget(calls=10)
    with Run(budget=budget) as run:
        out = fan_out_graph(llm, use_async=False).invoke({"n": 50}, {"max_concurrency": 16})
    assert out["results"].count("ok") == 10
    assert out["results"].count("refused") == 40
    assert len(llm.calls) == 10
    assert run.meter.spent()["usd"] <= 0.06 + 1e-12
    assert {r.node for r in run.ledger.records} == {"work"}


async def test_fifty_async_send_branches_never_overspend() -> None:
    llm = remote(rate=0.001)
    async with Run(budget=Budget(usd=0.06)) as run:
        out = await fan_out_graph(llm, use_async=True).ainvoke({"n": 50})
    assert out["results"].count("ok") == 10
    assert len(llm.calls) == 10
    assert run.meter.spent()["usd"] <= 0.06 + 1e-12


def test_subgraph_nodes_are_metered_by_the_outer_run() -> None:
    llm = remote()

    class Inner(TypedDict):
        question: str
        answer: str

    @node(role="solver")
    def solve(state: Inner) -> dict[str, Any]:
        return {"answer": llm.complete(state["question"]).text}

    inner = StateGraph(Inner)
    inner.add_node("solve", solve)
    inner.add_edge(START, "solve")
    outer = StateGraph(Inner)
    outer.add_node("inner", inner.compile())
    outer.add_edge(START, "inner")
    with Run() as run:
        out = outer.compile().invoke({"question": "why"})
    assert out["answer"] == "four words of answer"
    assert [(r.node, r.role) for r in run.ledger.records] == [("solve", "solver")]


def test_interrupt_policy_asks_and_resuming_with_a_raised_limit_continues() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    llm = remote(rate=0.001)
    graph = qa_graph(slm, llm, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    run = Run(budget=Budget(usd=0.001, policy="interrupt"))
    first = invoke(graph, {"question": "what"}, config, run=run)
    assert len(first.interrupts) == 1
    payload = first.interrupts[0].value
    assert payload["limit_name"] == "usd" and payload["needed"] > 0.001
    assert llm.calls == []
    second = invoke(graph, Command(resume={"usd": 1.0}), config, run=run)
    assert second.interrupts == []
    assert second.output["answer"] == "four words of answer"
    assert run.budget.usd == 1.0
    assert [r.model for r in run.ledger.records if r.outcome == "ok"] == ["small", "big"]


def test_interrupt_refused_on_resume_raises() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    graph = qa_graph(slm, remote(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t2"}}
    run = Run(budget=Budget(usd=0.0, policy="interrupt"))
    invoke(graph, {"question": "what"}, config, run=run)
    with pytest.raises(BudgetExceeded, match="refused"):
        invoke(graph, Command(resume={"approve": False}), config, run=run)


def test_resumed_thread_starts_from_the_checkpointed_calls() -> None:
    slm = collab.metered(ScriptedModel(lambda _: "draft text", name="small", kind="local"))
    llm = remote(rate=0.001)
    graph = qa_graph(slm, llm, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t3"}}
    done = invoke(graph, {"question": "what"}, config)
    again = invoke(graph, None, config)  # nothing left to run: nothing is paid twice
    assert again.ledger.records == done.ledger.records
    assert len(llm.calls) == 1
    assert again.run.meter.spent()["usd"] == pytest.approx(done.run.meter.spent()["usd"])
