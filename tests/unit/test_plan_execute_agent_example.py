"""The plan-and-execute example's graph: its tools, its folder, and the table of steps."""

from __future__ import annotations

import json
from pathlib import Path

from collab import Run, ScriptedModel, ToolCall
from collab.cli.run_cmd import load_example
from collab.patterns import plan_execute

example = load_example("plan_execute_agent")


def test_the_planned_steps_read_the_notes_and_compute(tmp_path: Path) -> None:
    folder = example.write_notes(tmp_path)
    plan = {
        "steps": [
            {"tool": "read_file", "purpose": "the EU shipping price", "uses": []},
            {"tool": "calculator", "purpose": "3 times that price", "uses": [1]},
        ]
    }
    llm = ScriptedModel([json.dumps(plan), "21 euros."], name="llm", kind="remote")
    slm = ScriptedModel(
        [
            ToolCall(id="r", name="read_file", arguments={"path": "../etc/passwd"}),
            ToolCall(id="r2", name="read_file", arguments={"path": "shipping.txt"}),
            ToolCall(id="c", name="calculator", arguments={"expression": "3 * 7"}),
        ],
        name="slm",
        kind="local",
    )
    with Run() as run:
        final = example.build_graph(slm, llm, folder=folder).invoke({"question": "3 parcels?"})
    result = plan_execute.result_of(final)
    first, second = result.details["steps"]
    assert "refused" in first.attempts[0].error and first.repairs == 1
    assert first.result == example.NOTES["shipping.txt"] and second.result == "21"
    assert result.answer == "21 euros."
    assert [r.node for r in run.ledger.records] == [
        "plan",
        "execute",
        "execute",
        "execute",
        "answer",
    ]
    table = example.steps_table("3 parcels?", result.details["steps"])
    assert table.row_count == 2


def test_the_search_tool_finds_the_returns_policy(tmp_path: Path) -> None:
    llm = ScriptedModel(
        [json.dumps({"steps": [{"tool": "search", "purpose": "returns"}]}), "30 days"]
    )
    slm = ScriptedModel([ToolCall(id="s", name="search", arguments={"query": "return an item"})])
    final = example.build_graph(slm, llm, folder=tmp_path).invoke({"question": "returns?"})
    (step,) = plan_execute.result_of(final).details["steps"]
    assert step.result.startswith("returns: Customers may return an item within 30 days")
