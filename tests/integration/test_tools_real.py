"""Tool calling on real models: SmolLM2 and Qwen2.5-Coder-0.5B in-process, and over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from collab.patterns.tool_caller import call_tools, grounded_check, unused_value

from collab import Message, ScriptedModel, tool
from collab.errors import CollabError, UserError
from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.types import ToolCall

pytestmark = pytest.mark.integration

QWEN = "qwen2.5-coder-0.5b-instruct"


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather in a city.

    Args:
        city: The city's name, e.g. Paris.
        unit: celsius or fahrenheit.
    """
    return f"18 degrees {unit} and sunny in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture(scope="module")
def qwen() -> Iterator[LocalModel]:
    try:
        from collab.models.catalog import model_path

        if not model_path(QWEN, pull=False).is_file():
            raise FileNotFoundError(QWEN)
    except (CollabError, FileNotFoundError):
        pytest.skip(f"{QWEN} is not pulled: run `collab models pull {QWEN}`")
    model = LocalModel(QWEN, n_threads=2, n_ctx=2048)
    yield model
    model.close()


def test_smollm2_forced_call_parses_and_validates(smollm2: LocalModel) -> None:
    done = smollm2.complete(
        "What is the weather in Paris?", tools=[get_weather, add], tool_choice="get_weather"
    )
    first = done.tool_calls[0]
    assert first.name == "get_weather" and first.valid, first
    assert get_weather.run(first.arguments).endswith("sunny in " + first.arguments["city"])
    assert done.usage.completion_tokens > 0 and done.text == ""


def test_smollm2_required_call_picks_an_offered_tool(smollm2: LocalModel) -> None:
    done = smollm2.complete("Add 2 and 3.", tools=[get_weather, add], tool_choice="required")
    assert done.tool_calls and done.tool_calls[0].name in {"get_weather", "add"}
    assert done.tool_calls[0].valid, done.tool_calls[0]


def test_schema_and_tools_together_are_refused(smollm2: LocalModel) -> None:
    with pytest.raises(UserError, match="either schema= or tools="):
        smollm2.complete("?", tools=[add], schema={"type": "object"})


def test_qwen_forced_call_uses_the_gguf_template_and_validates(qwen: LocalModel) -> None:
    done = qwen.complete(
        "What is the weather in Paris?", tools=[get_weather], tool_choice="required"
    )
    (call,) = done.tool_calls
    assert call.name == "get_weather" and call.valid
    assert call.arguments["city"] == "Paris"
    assert done.finish_reason == "tool_calls"


def test_qwen_reads_a_tool_result_and_answers(qwen: LocalModel) -> None:
    chat = [Message(role="user", content="What is 17 + 25? Use the add tool.")]
    first = qwen.complete(chat, tools=[add], tool_choice="required")
    (call,) = first.tool_calls
    assert call.valid and call.arguments == {"a": 17, "b": 25}
    result = add.run(call.arguments)
    chat += [
        first.message(),
        Message(role="tool", content=str(result), tool_call_id=call.id, name=call.name),
    ]
    final = qwen.complete(chat, tools=[add], tool_choice="none", max_tokens=40)
    assert "42" in final.text and final.tool_calls == []


def test_named_tool_call_through_the_embedded_server(embedded: EmbeddedServer) -> None:
    llm = embedded.remote_model()
    done = llm.complete(
        "What is the weather in Paris?", tools=[get_weather], tool_choice="get_weather"
    )
    (call,) = done.tool_calls
    assert call.name == "get_weather" and call.valid, call
    assert isinstance(call.arguments["city"], str)


def test_qwen_adds_the_call_it_left_out_when_shown_its_calls(qwen: LocalModel) -> None:
    """The 0.5B makes one call per reply; ``call_tools(missing=...)`` shows it its calls and
    asks for the missing ones, and its calls add up, with no LLM."""
    request = "What is the weather in Paris and Rome right now?"
    never = ScriptedModel(lambda _: pytest.fail("the LLM was asked"), name="llm", kind="remote")
    turns = call_tools(
        request,
        [get_weather],
        slm=qwen,
        llm=never,
        max_tokens=96,
        max_repairs=1,
        llm_attempts=1,
        check=grounded_check(request, [get_weather]),
        missing=lambda calls: unused_value(calls, request),
    )
    assert turns.ok and not turns.escalated
    assert turns.continuations >= 1  # its first reply left a city out
    assert sorted(c.arguments["city"] for c in turns.calls) == ["Paris", "Rome"]
    assert all(c.name == "get_weather" for c in turns.calls)


LAWYER = {
    "type": "function",
    "function": {
        "name": "lawyer_find_nearby",
        "description": "Locate nearby lawyers by city and specialty.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city and state, e.g. Chicago, IL."},
                "specialty": {"type": "string", "description": "The lawyer's specialty."},
            },
            "required": ["city", "specialty"],
        },
    },
}


def test_a_place_without_its_documented_region_goes_to_the_llm(qwen: LocalModel) -> None:
    """The real 0.5B writes "Seattle" where the docs' example is "Chicago, IL": the grounded
    check fails its reply, and the LLM (scripted here) is asked instead."""
    request = "Find a divorce lawyer in Seattle."
    seattle = ToolCall(
        id="c1",
        name="lawyer_find_nearby",
        arguments={"city": "Seattle, WA", "specialty": "divorce"},
    )
    turns = call_tools(
        request,
        [LAWYER],
        slm=qwen,
        llm=ScriptedModel([seattle], name="llm", kind="remote"),
        max_tokens=96,
        max_repairs=0,
        llm_attempts=1,
        check=grounded_check(request, [LAWYER]),
        llm_sees_slm=False,
    )
    first = turns.turns[0]
    assert first.by == "slm" and [c.arguments["city"] for c in first.completion.tool_calls] == [
        "Seattle"
    ]
    assert "add the region" in (first.error or "")
    assert turns.ok and turns.escalated
    assert [c.arguments for c in turns.calls] == [seattle.arguments]
