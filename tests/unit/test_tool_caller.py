"""call_tools: the SLM's calls, repaired, then the LLM's; every failed call answered."""

from __future__ import annotations

from collab.patterns.tool_caller import ToolTurns, call_tools

from collab.models.scripted import ScriptedModel
from collab.types import Completion, ToolCall

TOOL = {
    "type": "function",
    "function": {
        "name": "area",
        "description": "Area of a rectangle.",
        "parameters": {
            "type": "object",
            "properties": {"w": {"type": "integer"}, "h": {"type": "integer"}},
            "required": ["w", "h"],
        },
    },
}


def area(id_: str, **arguments: object) -> ToolCall:
    return ToolCall(id=id_, name="area", arguments=arguments)


def test_every_call_of_a_failed_reply_gets_a_tool_message() -> None:
    slm = ScriptedModel([[area("a", w=2, h=3), area("b", w="x", h=3)], [area("c", w=2, h=3)]])
    turns = call_tools(
        "2 by 3?",
        [TOOL],
        slm=slm,
        llm=ScriptedModel([]),
        max_tokens=32,
        max_repairs=1,
        llm_attempts=1,
    )
    assert turns.ok and turns.repairs == 1 and not turns.escalated
    assert [c.id for c in turns.calls] == ["c"]
    repair = slm.calls[1]
    assert [m.tool_call_id for m in repair if m.role == "tool"] == ["a", "b"]
    assert "call of area: invalid arguments" in repair[-1].content


def test_a_caller_that_never_succeeds_ends_with_the_llms_failure() -> None:
    slm = ScriptedModel(["no call, just text"])
    llm = ScriptedModel(["still no call", "nor now"])
    turns = call_tools("?", [TOOL], slm=slm, llm=llm, max_tokens=32, max_repairs=0, llm_attempts=2)
    assert not turns.ok and turns.escalated and turns.calls == []
    assert [t.by for t in turns.turns] == ["slm", "llm", "llm"]
    assert all(t.error == "no tool call was made" for t in turns.turns)


def test_a_check_of_its_own_decides_when_a_reply_is_done() -> None:
    slm = ScriptedModel([area("a", w=2, h=3), area("b", w=4, h=3)])
    turns = call_tools(
        "?",
        [TOOL],
        slm=slm,
        llm=ScriptedModel([]),
        max_tokens=32,
        max_repairs=1,
        llm_attempts=0,
        tool_choice="area",
        check=lambda _by, done: None if done.tool_calls[0].arguments["w"] == 4 else "w is 4",
        again="Call area again.",
    )
    assert turns.ok and turns.calls[0].id == "b"
    assert slm.calls[1][-1].content == "That call failed: w is 4\nCall area again."


def test_a_repeated_call_is_a_loop_to_repair() -> None:
    looped = [area("a", w=2, h=3), area("b", w=2, h=3)]
    slm = ScriptedModel([looped, [area("c", w=2, h=3), area("d", w=4, h=3)]])
    turns = call_tools(
        "2 by 3 and 4 by 3?",
        [TOOL],
        slm=slm,
        llm=ScriptedModel([]),
        max_tokens=32,
        max_repairs=1,
        llm_attempts=0,
    )
    assert turns.ok and turns.repairs == 1
    assert turns.turns[0].error == (
        "call 2 repeats call 1 (area with the same arguments); make each call once"
    )


def test_the_llm_can_start_from_the_question_alone() -> None:
    slm = ScriptedModel(["no call"])
    llm = ScriptedModel(["no call either", [area("b", w=2, h=3)]])
    turns = call_tools(
        "2 by 3?",
        [TOOL],
        slm=slm,
        llm=llm,
        max_tokens=32,
        max_repairs=0,
        llm_attempts=2,
        llm_sees_slm=False,
    )
    assert turns.ok and turns.escalated
    first, second = llm.calls
    assert [m.content for m in first] == ["2 by 3?"]  # not the SLM's failure
    assert second[-1].content.startswith("That call failed: no tool call was made")
    assert len(second) == 2  # the question and its own failure: no SLM turn


def _calls(*arguments: dict[str, object]) -> list[ToolCall]:
    return [ToolCall(id=f"c{i}", name="f", arguments=a) for i, a in enumerate(arguments)]


def test_arguments_found_in_the_request_are_grounded() -> None:
    from collab.patterns.tool_caller import ungrounded_argument

    request = "Convert 1,500 Canadian dollars to USD for New York, at 2.5% fee."
    calls = _calls(
        {"amount": 1500, "fee": 2.5, "to": "USD", "city": "new york", "verbose": False},
        {"where": "New York, Canadian", "codes": ["usd"], "note": ""},
    )
    assert ungrounded_argument(calls, request) is None


def test_a_value_from_nowhere_is_named() -> None:
    from collab.patterns.tool_caller import ungrounded_argument

    request = "Convert 1,500 Canadian dollars to USD."
    assert ungrounded_argument(_calls({"amount": 1500, "base": "CAD"}), request) == (
        "f(base='CAD'): 'CAD' is not in the request"
    )
    assert "1600" in (ungrounded_argument(_calls({"amounts": [1500, 1600]}), request) or "")


def test_the_grounded_check_sends_an_ungrounded_slm_call_on_and_takes_the_llms() -> None:
    from collab.patterns.tool_caller import grounded_check

    check = grounded_check("Weather in Paris?")

    def reply(**arguments: object) -> Completion:
        return Completion(text="", model="slm", kind="local", tool_calls=tuple(_calls(arguments)))

    invented = reply(city="London")
    assert "London" in (check("slm", invented) or "")
    assert check("llm", invented) is None
    assert check("slm", reply(city="Paris")) is None


def _areas(request: str, slm: ScriptedModel, llm: ScriptedModel, **options: int) -> ToolTurns:
    from collab.patterns.tool_caller import unused_value

    return call_tools(
        request,
        [TOOL],
        slm=slm,
        llm=llm,
        max_tokens=32,
        llm_sees_slm=False,
        missing=lambda calls: unused_value(calls, request),
        **{"max_repairs": 0, "llm_attempts": 1, **options},
    )


def test_a_reply_that_leaves_values_out_is_continued_and_its_calls_add_up() -> None:
    slm = ScriptedModel([[area("a", w=2, h=3)], [area("b", w=4, h=5)], [area("c", w=6, h=7)]])
    llm = ScriptedModel([])
    turns = _areas("Areas of 2 by 3, 4 by 5 and 6 by 7?", slm, llm)
    assert turns.ok and not turns.escalated and not llm.calls
    assert [c.id for c in turns.calls] == ["a", "b", "c"]
    assert turns.continuations == 2 and turns.repairs == 0
    second = slm.calls[1]  # the question, the call as made, "recorded", what is missing
    assert [m.role for m in second] == ["user", "assistant", "tool", "user"]
    assert second[2].content == "recorded" and second[2].tool_call_id == "a"
    assert second[3].content.startswith("Not finished: the request gives '4'")


def test_a_continuation_adding_nothing_fails_and_the_llm_takes_over() -> None:
    both = [area("l1", w=2, h=3), area("l2", w=4, h=5)]
    slm = ScriptedModel([[area("a", w=2, h=3)], [area("again", w=2, h=3)]])
    llm = ScriptedModel([both])
    turns = _areas("Areas of 2 by 3 and 4 by 5?", slm, llm)
    assert turns.ok and turns.escalated and [c.id for c in turns.calls] == ["l1", "l2"]
    failed = turns.turns[1]
    assert failed.continued and (failed.error or "").startswith("no call was added")
    assert [m.content for m in llm.calls[0]] == ["Areas of 2 by 3 and 4 by 5?"]


def test_calls_still_incomplete_after_the_last_continuation_fail() -> None:
    slm = ScriptedModel([[area("a", w=2, h=3)], [area("b", w=4, h=5)]])
    llm = ScriptedModel([[area("l1", w=2, h=3)]])  # the LLM's valid reply is taken as it is
    turns = _areas("Areas of 2 by 3, 4 by 5 and 6 by 7?", slm, llm, max_continuations=1)
    assert [t.error is None for t in turns.turns] == [True, False, True]
    assert "'6'" in (turns.turns[1].error or "") and turns.escalated
    assert [c.id for c in turns.calls] == ["l1"]


def test_an_invalid_continuation_is_repaired_afresh() -> None:
    slm = ScriptedModel(
        [
            [area("a", w=2, h=3)],
            [area("bad", w="four", h=5)],
            [area("x", w=2, h=3), area("y", w=4, h=5)],
        ]
    )
    request = "Areas of 2 by 3 and 4 by 5?"
    turns = _areas(request, slm, ScriptedModel([]), max_repairs=1, llm_attempts=0)
    assert turns.ok and turns.repairs == 1 and turns.continuations == 1
    assert [c.id for c in turns.calls] == ["x", "y"]  # the fresh reply's calls, not added up
