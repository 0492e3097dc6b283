"""Tool calls through the model API: messages, parsing, ScriptedModel, RemoteModel over HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest
from fault_server import FaultServer, Reply

from collab import Message, ScriptedModel, ToolCall, tool
from collab.errors import UserError
from collab.models.local_tools import tool_messages, tool_result
from collab.models.remote import RemoteModel
from collab.models.tool_calls import ToolRequest, json_calls, parse_hermes_calls
from collab.types import messages_as_dicts, normalize_messages


@tool
def get_weather(city: str, unit: str = "C") -> str:
    """Current weather in a city."""
    return f"18 {unit} in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


OPENAI_CHAT = [
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    },
    {"role": "tool", "content": "18 C in Oslo", "tool_call_id": "call_1", "name": "get_weather"},
]


def test_openai_messages_round_trip() -> None:
    messages = normalize_messages(OPENAI_CHAT)
    assert messages[1].tool_calls[0].arguments == {"city": "Oslo"}
    assert messages[1].content == ""
    assert messages[2].tool_call_id == "call_1" and messages[2].name == "get_weather"
    assert messages_as_dicts(messages) == OPENAI_CHAT


def test_plain_messages_stay_role_and_content() -> None:
    assert Message(role="user", content="hi").to_dict() == {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("arguments", "error"),
    [('{"city": ', "not valid JSON"), ('"Oslo"', "must be a JSON object, got str")],
)
def test_unparsable_openai_arguments_are_kept_with_an_error(arguments: str, error: str) -> None:
    call = ToolCall.from_openai({"id": "c", "function": {"name": "f", "arguments": arguments}})
    assert call.arguments_text == arguments and call.arguments == {}
    assert call.error is not None and error in call.error


def test_hermes_calls_parse_with_text_before_and_a_cut_off_call() -> None:
    text = (
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "add", "arguments": {"a": 1'
    )
    content, calls = parse_hermes_calls(text)
    assert content == "Let me check."
    assert [c.name for c in calls] == ["get_weather", "add"]
    assert calls[0].arguments == {"city": "Oslo"} and calls[0].valid
    assert calls[1].error is not None and "not valid JSON" in calls[1].error


def test_local_result_checks_calls_against_the_offered_tools() -> None:
    request = ToolRequest.of([get_weather], "required")
    assert request is not None
    _, calls = tool_result(
        '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>', request
    )
    assert calls[0].error is not None and "city: Field required" in calls[0].error
    _, calls = tool_result('<tool_call>{"name": "add", "arguments": {}}</tool_call>', request)
    assert calls[0].error is not None and "'add' is not one of the offered tools" in calls[0].error


def test_auto_takes_a_bare_json_call_in_a_code_fence() -> None:
    request = ToolRequest.of([get_weather], "auto")
    assert request is not None
    text = '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```'
    content, calls = tool_result(text, request)
    assert content == "" and calls[0].arguments == {"city": "Paris"} and calls[0].valid
    content, calls = tool_result("It is sunny.", request)
    assert content == "It is sunny." and calls == []


def test_templates_without_tools_get_an_instruction_and_calls_as_text() -> None:
    request = ToolRequest.of([get_weather], "auto")
    assert request is not None
    messages, specs = tool_messages(normalize_messages(OPENAI_CHAT), request, native=False)
    assert specs is None
    assert messages[0].role == "system" and '"name": "get_weather"' in messages[0].content
    assert "<tool_call>" in messages[2].content and '"city": "Oslo"' in messages[2].content
    assert messages[3].role == "user" and "<tool_response>" in messages[3].content
    _, native_specs = tool_messages(normalize_messages(OPENAI_CHAT), request, native=True)
    assert native_specs == [get_weather.spec()]


def test_scripted_tool_call_is_checked_and_fills_id_and_text() -> None:
    model = ScriptedModel([ToolCall(id="", name="get_weather", arguments={"city": "Oslo"})])
    completion = model.complete("Weather in Oslo?", tools=[get_weather])
    (call,) = completion.tool_calls
    assert call.valid and call.id.startswith("call_")
    assert json.loads(call.arguments_text) == {"city": "Oslo"}
    assert completion.finish_reason == "tool_calls" and completion.text == ""
    assert get_weather.run(call.arguments) == "18 C in Oslo"


def test_invalid_scripted_arguments_are_recorded_not_raised() -> None:
    model = ScriptedModel([ToolCall(id="c1", name="add", arguments={"a": "one"})])
    completion = model.complete("1 + 2?", tools=[add, get_weather])
    (call,) = completion.tool_calls
    assert call.error is not None
    assert "a: Input should be a valid integer" in call.error and "b: Field required" in call.error


def test_a_tool_loop_with_a_function_backed_model() -> None:
    def reply(messages: list[Message]) -> ToolCall | str:
        if messages[-1].role == "tool":
            return f"The answer is {messages[-1].content}."
        return ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})

    model = ScriptedModel(reply)
    chat: list[Message] = [Message(role="user", content="What is 2 + 3?")]
    first = model.complete(chat, tools=[add], tool_choice="required")
    chat.append(first.message())
    for call in first.tool_calls:
        result = add.run(call.arguments)
        chat.append(Message(role="tool", content=str(result), tool_call_id=call.id, name=call.name))
    final = model.complete(chat, tools=[add])
    assert final.text == "The answer is 5." and final.tool_calls == []
    assert model.calls[1][1].tool_calls[0].name == "add"


def test_json_calls_in_fences_lists_and_cut_off() -> None:
    request = ToolRequest.of([get_weather, add], "required")
    assert request is not None
    text = (
        'Sure.\n```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```\n'
        'and\n```json\n[{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "x"}]\n```\n'
        '```json\n{"name": "add", "arguments": {"a": 3'
    )
    calls = json_calls(text, request)
    assert [(c.name, c.arguments) for c in calls[:2]] == [
        ("get_weather", {"city": "Oslo"}),
        ("add", {"a": 1, "b": 2}),
    ]
    assert len(calls) == 3 and calls[2].name == "add" and calls[2].error is not None
    two = '{"name": "add", "arguments": {"a": 1, "b": 1}}\n{"name": "add", "arguments": {}}'
    assert [c.arguments for c in json_calls(two, request)] == [{"a": 1, "b": 1}, {}]
    assert json_calls('{"name": "Paris"}', request) == []  # JSON, but no offered tool's call
    assert json_calls("It is sunny.", request) == []


def test_remote_reads_json_calls_a_self_hosted_model_wrote_as_text() -> None:
    text = '```json\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n```'
    with FaultServer([Reply(content=text)]) as server:
        model = RemoteModel("openai/fake", api_base=server.api_base, api_key="k", max_retries=0)
        completion = model.complete("?", tools=[get_weather, add], tool_choice="required")
    assert completion.text == "" and [c.arguments for c in completion.tool_calls] == [
        {"a": 2, "b": 3}
    ]
    assert completion.tool_calls[0].valid


def test_async_scripted_tool_call() -> None:
    model = ScriptedModel([ToolCall(id="c", name="add", arguments={"a": 1, "b": 1})])
    completion = asyncio.run(model.acomplete("?", tools=[add]))
    assert completion.tool_calls[0].arguments == {"a": 1, "b": 1}


def test_tool_call_reply_without_tools_and_choice_without_tools_are_user_errors() -> None:
    with pytest.raises(UserError, match="without tools"):
        ScriptedModel([ToolCall(id="c", name="add")]).complete("?")
    with pytest.raises(UserError, match="tool_choice='required' without tools"):
        ScriptedModel(["hi"]).complete("?", tool_choice="required")


def test_remote_sends_litellm_tools_and_parses_the_calls() -> None:
    calls = (
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
    )
    with FaultServer([Reply(content="", tool_calls=calls)]) as server:
        model = RemoteModel("openai/fake", api_base=server.api_base, api_key="k", max_retries=0)
        completion = model.complete("?", tools=[get_weather, add], tool_choice="get_weather")
    sent = server.requests[0].body
    assert sent["tools"] == [get_weather.spec(), add.spec()]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    first, second = completion.tool_calls
    assert first.id == "call_a" and first.arguments == {"city": "Lima"} and first.valid
    # tool_choice names get_weather: a call of another tool is recorded as invalid
    assert second.error is not None and "'add' is not one of the offered tools" in second.error
    assert completion.finish_reason == "tool_calls"


def test_remote_sends_tool_messages_in_openai_form() -> None:
    with FaultServer([Reply(content="It is 18 C.")]) as server:
        model = RemoteModel("openai/fake", api_base=server.api_base, api_key="k", max_retries=0)
        completion = model.complete(OPENAI_CHAT, tools=[get_weather])
    assert completion.text == "It is 18 C." and completion.tool_calls == []
    sent = server.requests[0].body["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
    assert sent[2]["tool_call_id"] == "call_1"
