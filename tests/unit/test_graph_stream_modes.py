"""Tokens of metered model calls reach LangGraph's "messages" and "custom" stream modes."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk

from collab import Budget, Run, ScriptedModel
from collab.patterns import cascade, draft_verify


def _cascade(threshold: float) -> Any:
    slm = ScriptedModel(
        ["The answer is 391."], name="slm", kind="local", scores=lambda p, o: [0.3, 0.7]
    )
    llm = ScriptedModel(["It is 391."], name="llm", kind="remote")
    return cascade.build(slm=slm, llm=llm, config=cascade.CascadeConfig(threshold=threshold))


def test_messages_mode_yields_the_streamed_draft_token_by_token_with_its_node() -> None:
    graph = _cascade(threshold=0.9)
    parts = list(graph.stream({"question": "17 * 23?"}, stream_mode="messages"))
    draft = [(m, meta) for m, meta in parts if meta["langgraph_node"] == "draft"]
    assert [m.content for m, _ in draft] == ["The", " answer", " is", " 391."]
    assert all(isinstance(m, AIMessageChunk) for m, _ in draft)
    assert len({m.id for m, _ in draft}) == 1  # one reply, not four
    escalated = [m for m, meta in parts if meta["langgraph_node"] == "escalate"]
    assert [type(m) for m in escalated] == [AIMessage]  # a call not streamed: one message
    assert escalated[0].content == "It is 391." and escalated[0].name == "llm"


def test_custom_mode_yields_tokens_and_whole_messages_in_order() -> None:
    graph = _cascade(threshold=0.9)
    parts = list(graph.stream({"question": "17 * 23?"}, stream_mode="custom"))
    assert parts == [
        {"type": "token", "node": "draft", "model": "slm", "text": "The"},
        {"type": "token", "node": "draft", "model": "slm", "text": " answer"},
        {"type": "token", "node": "draft", "model": "slm", "text": " is"},
        {"type": "token", "node": "draft", "model": "slm", "text": " 391."},
        {"type": "message", "node": "escalate", "model": "llm", "text": "It is 391."},
    ]


async def test_async_stream_in_a_run_is_metered_and_streamed() -> None:
    slm = ScriptedModel(["Paris is it."], name="slm", kind="local")
    llm = ScriptedModel(["Yes, correct."], name="llm", kind="remote")
    graph = draft_verify.build(slm=slm, llm=llm)
    with Run(budget=Budget(calls=5)) as run:
        parts = [p async for p in graph.astream({"question": "Capital?"}, stream_mode="messages")]
    nodes = [meta["langgraph_node"] for _, meta in parts]
    assert nodes and set(nodes) <= {"draft", "verify"} and "draft" in nodes
    text = "".join(m.content for m, meta in parts if meta["langgraph_node"] == "draft")
    assert "Paris" in text
    assert [r.model for r in run.ledger.records] == ["slm", "llm"]


def test_a_graph_streamed_without_messages_mode_is_unchanged() -> None:
    graph = _cascade(threshold=0.1)
    final = graph.invoke({"question": "17 * 23?"})
    assert final["answer"] == "The answer is 391." and final["answered_by"] == "slm"
