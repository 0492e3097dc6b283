"""``@collab.tool`` and the tool forms models accept: functions, LangChain tools, OpenAI dicts."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from pydantic import BaseModel

import collab
from collab.errors import ToolArgumentsError, UserError
from collab.tools import Tool, as_tool, as_tools, check_tool_choice, tool


@tool
def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
    """Current weather in a city.

    Args:
        city: The city's name,
            as people write it.
        unit: Degrees Celsius or Fahrenheit.
    """
    return f"18 {unit} in {city}"


@tool(name="add-numbers", description="Add two integers.")
async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_decorator_takes_name_description_and_parameters_from_the_function() -> None:
    spec = get_weather.spec()
    assert spec["type"] == "function"
    function = spec["function"]
    assert function["name"] == "get_weather"
    assert function["description"] == "Current weather in a city."
    params = function["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {
        "type": "string",
        "description": "The city's name, as people write it.",
    }
    assert params["properties"]["unit"]["enum"] == ["C", "F"]
    assert params["properties"]["unit"]["default"] == "C"
    assert params["additionalProperties"] is False


def test_decorator_with_arguments_overrides_name_and_description() -> None:
    assert add.name == "add-numbers" and add.description == "Add two integers."
    assert collab.tool is tool and isinstance(add, collab.Tool)


def test_run_validates_and_converts_arguments() -> None:
    assert get_weather.run({"city": "Oslo"}) == "18 C in Oslo"
    assert get_weather.run('{"city": "Oslo", "unit": "F"}') == "18 F in Oslo"
    assert add.run({"a": "2", "b": 3}) == 5  # pydantic's lax mode: "2" is an int


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "city: Field required"),
        ({"city": "Oslo", "unit": "K"}, "unit: Input should be 'C' or 'F'"),
        ({"city": "Oslo", "town": "x"}, "town: Extra inputs are not permitted"),
        ('{"city": ', "not valid JSON"),
        ("[1, 2]", "must be an object, got list"),
    ],
)
def test_invalid_arguments_name_the_tool_and_the_problem(arguments: object, expected: str) -> None:
    with pytest.raises(ToolArgumentsError) as caught:
        get_weather.run(arguments)  # type: ignore[arg-type]
    assert caught.value.tool == "get_weather"
    assert expected in str(caught.value)


def test_async_tool_runs_with_run_and_arun() -> None:
    assert add.run({"a": 1, "b": 2}) == 3
    assert asyncio.run(add.arun({"a": 4, "b": 5})) == 9


async def test_sync_run_of_an_async_tool_inside_a_loop_points_to_arun() -> None:
    with pytest.raises(UserError, match="arun"):
        add.run({"a": 1, "b": 2})
    assert await get_weather.arun({"city": "Rome"}) == "18 C in Rome"


def test_plain_typed_function_is_accepted_as_a_tool() -> None:
    def lookup(word: str) -> str:
        """Look a word up."""
        return word.upper()

    converted = as_tool(lookup)
    assert converted.name == "lookup" and converted.run({"word": "hi"}) == "HI"


def test_parameters_without_type_hints_are_refused() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(UserError, match="parameter 'x' of tool 'untyped' has no type hint"):
        tool(untyped)


class Point(BaseModel):  # module level: `from __future__ import annotations` hints are names
    x: float
    y: float


def test_pydantic_model_parameters_are_nested_schemas() -> None:
    @tool
    def distance(a: Point, b: Point) -> float:
        """Distance between two points."""
        return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)

    assert distance.run({"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}}) == 5.0
    assert "$defs" in distance.parameters


def test_openai_dict_is_a_description_only_tool() -> None:
    spec = {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
            },
        },
    }
    converted = as_tool(spec)
    assert converted.spec() == spec
    assert converted.validate({"q": "x"}) == {"q": "x"}
    with pytest.raises(ToolArgumentsError, match="missing required arguments"):
        converted.validate({})
    with pytest.raises(ToolArgumentsError, match=r"'search'.*3 is not of type 'string' at q"):
        converted.validate({"q": 3})  # checked against the dict's JSON schema
    with pytest.raises(UserError, match="no function to run"):
        converted.run({"q": "x"})


def test_malformed_tools_are_user_errors() -> None:
    with pytest.raises(UserError, match="not an OpenAI tool dict"):
        as_tool({"name": "x"})
    with pytest.raises(UserError, match="not a tool"):
        as_tool(42)
    with pytest.raises(UserError, match="two tools are named 'get_weather'"):
        as_tools([get_weather, get_weather])


def test_tool_choice_is_checked_against_the_tools() -> None:
    tools = [get_weather, add]
    assert check_tool_choice("required", tools) == "required"
    assert check_tool_choice({"type": "function", "function": {"name": "get_weather"}}, tools) == (
        "get_weather"
    )
    with pytest.raises(UserError, match="'nope' is not one of the offered tools"):
        check_tool_choice("nope", tools)


def test_langchain_tool_keeps_its_schema_and_runs_through_invoke() -> None:
    lc_tools = pytest.importorskip("langchain_core.tools")

    @lc_tools.tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    converted = as_tool(multiply)
    assert isinstance(converted, Tool)
    assert converted.name == "multiply"
    assert converted.description == "Multiply two integers."
    assert set(converted.parameters["properties"]) == {"a", "b"}
    assert converted.run({"a": 6, "b": 7}) == 42
    with pytest.raises(ToolArgumentsError):
        converted.run({"a": "six", "b": 7})


def test_async_langchain_tool_runs_with_arun() -> None:
    lc_tools = pytest.importorskip("langchain_core.tools")

    @lc_tools.tool
    async def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    assert asyncio.run(as_tool(shout).arun({"text": "hey"})) == "HEY"
