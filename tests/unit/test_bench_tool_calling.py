"""BFCL through tools: the conversion, parallel scoring, and the tool caller's repair and
escalation, with scripted models."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from bench import tool_calling
from bench.tool_calling import LLM_ONLY, Entry, goal, llm_only, score, summary, tool_caller
from collab.evaluation.bfcl_checker import check_calls
from collab.evaluation.bfcl_tools import bfcl_tools, calls_of
from collab.models.scripted import ScriptedModel
from collab.types import ToolCall

PLAY = {
    "name": "spotify.play",
    "description": "Play tracks of an artist.",
    "parameters": {
        "type": "dict",
        "properties": {
            "artist": {"type": "string", "description": "The artist."},
            "duration": {"type": "integer", "description": "Minutes."},
            "volume": {"type": "float", "description": "Volume."},
            "tags": {"type": "tuple", "items": {"type": "string"}},
            "options": {"type": "dict", "properties": {"loop": {"type": "boolean"}}},
            "anything": {"type": "any", "description": "Whatever."},
            "untyped": {"description": "No type."},
        },
        "required": ["artist", "duration"],
    },
}
TRUTH: list[dict[str, Any]] = [
    {"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
    {"spotify.play": {"artist": ["Maroon 5"], "duration": [15]}},
]


def call(artist: str, duration: Any, name: str = "spotify_play", id_: str = "") -> ToolCall:
    return ToolCall(id=id_, name=name, arguments={"artist": artist, "duration": duration})


def test_bfcl_types_and_names_become_openai_tools_as_bfcl_converts_them() -> None:
    converted = bfcl_tools([PLAY])
    function = converted.tools[0]["function"]
    properties = function["parameters"]["properties"]
    assert function["name"] == "spotify_play" and converted.names == {
        "spotify_play": "spotify.play"
    }
    assert function["parameters"]["type"] == "object"
    assert {k: v["type"] for k, v in properties.items()} == {
        "artist": "string",
        "duration": "integer",
        "volume": "number",
        "tags": "array",
        "options": "object",
        "anything": "string",
        "untyped": "string",
    }
    assert properties["volume"]["format"] == "float"
    assert properties["volume"]["description"].endswith("This is a float type value.")
    assert properties["options"]["properties"]["loop"]["type"] == "boolean"
    assert PLAY["parameters"]["type"] == "dict"  # the BFCL doc itself is left alone


def test_parallel_calls_match_in_any_order_one_to_one() -> None:
    names = bfcl_tools([PLAY]).names
    swapped = calls_of([call("Maroon 5", 15), call("Taylor Swift", 20)], names)
    assert check_calls([PLAY], swapped, TRUTH, category="parallel").valid
    twice = calls_of([call("Maroon 5", 15), call("Maroon 5", 15)], names)
    verdict = check_calls([PLAY], twice, TRUTH, category="parallel")
    assert not verdict.valid and verdict.error_type == "parallel:cannot_find_match"
    one = calls_of([call("Taylor Swift", 20)], names)
    assert check_calls([PLAY], one, TRUTH, category="parallel").error_type.endswith("wrong_count")


ENTRY = Entry(
    "parallel_0", "parallel", "Play Taylor Swift 20 min and Maroon 5 15 min.", [PLAY], TRUTH
)


def test_a_valid_slm_reply_never_reaches_the_llm() -> None:
    slm = ScriptedModel(
        [[call("Taylor Swift", 20), call("Maroon 5", 15)]], name="slm", kind="local"
    )
    llm = ScriptedModel([], name="llm", kind="remote")
    outcome = score("caller", ENTRY, tool_caller(slm, llm, repairs=2))
    assert outcome.correct and not outcome.reached_llm
    assert outcome.repairs == 0 and outcome.llm_tokens == 0 and not llm.calls


def test_an_invalid_call_is_repaired_with_its_error_shown() -> None:
    slm = ScriptedModel(
        [
            [call("Taylor Swift", "twenty", id_="c1")],  # not an integer: invalid
            [call("Taylor Swift", 20), call("Maroon 5", 15)],
        ],
        name="slm",
        kind="local",
    )
    llm = ScriptedModel([], name="llm", kind="remote")
    outcome = score("caller", ENTRY, tool_caller(slm, llm, repairs=2))
    assert outcome.correct and outcome.repairs == 1 and not outcome.reached_llm
    repair = slm.calls[1]
    assert [m.role for m in repair[-3:]] == ["assistant", "tool", "user"]
    assert repair[-2].tool_call_id == "c1" and "twenty" in repair[-2].content


def test_after_its_repairs_the_slm_hands_over_to_the_llm() -> None:
    wrong_tool = ToolCall(id="c1", name="spotify_stop", arguments={})
    right = [call("Taylor Swift", 20), call("Maroon 5", 15)]
    for sees in (False, True):
        slm = ScriptedModel([[], wrong_tool], name="slm", kind="local")
        llm = ScriptedModel([right], name="llm", kind="remote", cost_per_token_usd=0.001)
        caller = tool_caller(slm, llm, repairs=1, llm_sees_slm=sees)
        outcome = score("caller", ENTRY, caller)
        assert outcome.correct and outcome.reached_llm and outcome.repairs == 1
        assert outcome.llm_tokens > 0 and outcome.cost_usd == outcome.llm_tokens * 0.001
        shown = [m.content for m in llm.calls[0]]
        assert len(slm.calls) == 2 and shown[0] == ENTRY.question
        if sees:  # the SLM's failures and their errors, then the last request to repair
            assert "That call failed: no tool call was made" in shown[1]
            assert "not one of the offered tools" in shown[-1]
        else:
            assert shown == [ENTRY.question]


def test_the_llm_only_row_and_the_goal_verdict() -> None:
    llm = ScriptedModel([[call("Taylor Swift", 20)]], name="llm", kind="remote")
    wrong = score(LLM_ONLY, ENTRY, llm_only(llm))
    assert not wrong.correct and wrong.reached_llm and "wrong_count" not in (wrong.error or "x")
    slm = ScriptedModel([[call("Taylor Swift", 20), call("Maroon 5", 15)]], kind="local")
    right = score("tool caller (x)", ENTRY, tool_caller(slm, llm))
    rows = summary([wrong, right])
    assert [r["accuracy"] for r in rows] == [0.0, 1.0]
    verdict = goal(rows)["parallel: tool caller (x)"]
    assert verdict["met"] and verdict["reached_llm"] == 0.0
    assert "| parallel (1) | tool caller (x) | 100.0% | 0% |" in tool_calling.markdown(rows)


def test_the_commands_in_the_docs_parse() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
    commands = re.findall(
        r"^\$ python -m bench\.tool_calling(.*?)(?:#.*)?$", page.read_text(), re.M
    )
    assert len(commands) == 2
    parsed = [tool_calling.arguments().parse_args(shlex.split(c)) for c in commands]
    assert parsed[0].limit == 20 and parsed[1].categories == ["parallel"] and parsed[1].repairs == 1


def test_the_complete_caller_asks_for_the_call_a_reply_left_out() -> None:
    one = [call("Taylor Swift", 20, id_="c1")]
    for check, correct in (("valid", False), ("complete", True)):
        slm = ScriptedModel([one, [call("Maroon 5", 15)]], name="slm", kind="local")
        llm = ScriptedModel([], name="llm", kind="remote")
        outcome = score("caller", ENTRY, tool_caller(slm, llm, check=check))  # type: ignore[arg-type]
        assert outcome.correct is correct and outcome.repairs == 0
        assert not outcome.reached_llm
    asked = slm.calls[1][-1].content
    assert asked.startswith("Not finished: the request gives") and "not the ones above" in asked


def test_held_out_entries_skip_the_development_sample(monkeypatch: Any) -> None:
    raw = [
        (
            {
                "id": f"multiple_{i}",
                "question": [[{"role": "user", "content": f"q{i}"}]],
                "function": [PLAY],
            },
            TRUTH[:1],
        )
        for i in range(70)
    ]
    monkeypatch.setattr(tool_calling, "read_category", lambda category: raw)
    monkeypatch.setattr(
        tool_calling, "load_bfcl", lambda category: _dataset([e["id"] for e, _ in raw])
    )
    development = {e.id for e in tool_calling.entries("multiple", tool_calling.DEVELOPMENT_LIMIT)}
    held_out = [e.id for e in tool_calling.entries("multiple", 30, split="held_out")]
    assert len(development) == 20 and len(held_out) == 30
    assert not development & set(held_out)
    every_other = {e.id for e in tool_calling.entries("multiple", None, split="held_out")}
    assert every_other == {e["id"] for e, _ in raw} - development
    # The fresh split skips the development and the held-out samples: the other 10 of 70.
    held = {
        e.id
        for e in tool_calling.entries("multiple", tool_calling.HELD_OUT_LIMIT, split="held_out")
    }
    fresh = {e.id for e in tool_calling.entries("multiple", None, split="fresh")}
    assert (
        len(held) == 40
        and len(fresh) == 10
        and fresh == {e["id"] for e, _ in raw} - development - held
    )


def _dataset(ids: list[str]) -> Any:
    from collab.evaluation.datasets import Dataset, Item

    return Dataset(name="fake", items=tuple(Item(id=i, input=i, reference="") for i in ids))


def test_one_sample_at_a_time_on_the_command_line(capsys: Any) -> None:
    parser = tool_calling.arguments()
    assert parser.parse_args(["--fresh"]).fresh
    with pytest.raises(SystemExit):
        parser.parse_args(["--fresh", "--held-out"])
    assert "not allowed with argument" in capsys.readouterr().err
