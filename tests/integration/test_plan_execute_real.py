"""plan_execute with a real tool caller: SmolLM2 in-process makes each step's call under a
grammar; the planner and answerer are scripted (the plan is the LLM's job, tested in unit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from collab.patterns.plan_execute import PlanExecuteConfig, StepRun
from collab.patterns.plan_tools import calculator, corpus_search, evaluate, file_reader

from collab import ScriptedModel, ToolCall
from collab.models.local import LocalModel
from collab.patterns import plan_execute

pytestmark = pytest.mark.integration


def test_smollm2_calls_each_planned_tool_with_valid_arguments(
    smollm2: LocalModel, tmp_path: Path
) -> None:
    (tmp_path / "shipping.txt").write_text("Shipping costs 7 euros per parcel.")
    search = corpus_search({"returns": "Items may be returned within 30 days."})
    tools = [calculator, file_reader(tmp_path), search]
    plan = {
        "steps": [
            {"tool": "calculator", "purpose": "compute 17 * 23"},
            {"tool": "read_file", "purpose": "read the file shipping.txt"},
            {"tool": "search", "purpose": "search for the returns policy"},
        ]
    }
    escalated_calls = [  # what the "LLM" calls if SmolLM2's repairs run out on a step
        ToolCall(id="l1", name="calculator", arguments={"expression": "17 * 23"}),
        ToolCall(id="l2", name="read_file", arguments={"path": "shipping.txt"}),
        ToolCall(id="l3", name="search", arguments={"query": "returns"}),
    ]

    def llm_reply(messages: list) -> str | ToolCall:
        last = messages[-1].content
        if "Use only these tools" in messages[0].content:
            return json.dumps(plan)
        if last.startswith("Question:"):
            return "done"
        tool = next(c for c in escalated_calls if f"Call {c.name}" in last)
        return tool

    llm = ScriptedModel(llm_reply, name="llm", kind="remote")
    config = PlanExecuteConfig(max_repairs=1, max_replans=0, call_max_tokens=48)
    result = plan_execute.run("Some questions.", slm=smollm2, llm=llm, tools=tools, config=config)

    steps: list[StepRun] = result.details["steps"]
    assert [s.tool for s in steps] == ["calculator", "read_file", "search"]
    assert all(s.ok for s in steps), [s.error for s in steps]
    for step in steps:
        for attempt in step.attempts:
            if attempt.by == "slm" and attempt.error:
                # grammar-constrained: the call always parses; only the tool can refuse it
                assert "not valid JSON" not in attempt.error
                assert "not one of the offered tools" not in attempt.error
    calc = steps[0]
    assert calc.result == str(evaluate(calc.arguments["expression"])).removesuffix(".0")
    local = [r for r in result.ledger.records if r.model == smollm2.name]
    assert local and all(r.node == "execute" and r.completion_tokens > 0 for r in local)
    assert result.answer == "done"
