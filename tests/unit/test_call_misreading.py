"""Tool calls that read their request wrong: a route backwards, a number twice, a percentage."""

from __future__ import annotations

import pytest
from collab.patterns.call_grounding import ungrounded_argument
from collab.patterns.call_misreading import misread_argument
from collab.patterns.tool_caller import grounded_check

from collab.types import Completion, ToolCall

TRAFFIC = "How much traffic should I expect from Las Vegas to Los Angeles this weekend?"


def _call(name: str = "f", **arguments: object) -> list[ToolCall]:
    return [ToolCall(id="c0", name=name, arguments=arguments)]


def _tool(name: str, **docs: str) -> dict[str, object]:
    properties = {p: {"type": "number", "description": d} for p, d in docs.items()}
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": properties}},
    }


def test_a_route_read_backwards_is_named_with_the_way_it_goes() -> None:
    backwards = _call(start_location="Los Angeles", end_location="Las Vegas", time="weekend")
    error = misread_argument(backwards, TRAFFIC)
    assert error is not None
    assert "start_location='Los Angeles'" in error and "from 'Las Vegas' to 'Los Angeles'" in error
    assert misread_argument(_call(origin="LAS VEGAS", destination="los angeles"), TRAFFIC) is None
    camel = _call(startCity="Los Angeles", toCity="Las Vegas")
    assert misread_argument(camel, TRAFFIC) is not None
    # Not a route parameter, or not the request's places: nothing to say.
    assert misread_argument(_call(city="Los Angeles", near="Las Vegas"), TRAFFIC) is None
    assert misread_argument(_call(start="Reno", end="Las Vegas"), TRAFFIC) is None


def test_a_number_given_once_may_fill_one_parameter_only() -> None:
    request = "Calculate the final speed of an object dropped from 100 m without air resistance."
    twice = _call(initial_velocity=100, height=100, gravity=9.8)
    error = misread_argument(twice, request)
    assert error is not None and "height, initial_velocity" in error and "once" in error
    assert misread_argument(_call(initial_velocity=0, height=100), request) is None
    square = "A rectangle of 5 by 5 metres."
    assert misread_argument(_call(length=5, width=5), square) is None
    # Two calls may each use it: the count is per call.
    two = [*_call(height=100), *_call(drop=100)]
    assert misread_argument(two, request) is None


@pytest.mark.parametrize(
    ("doc", "value", "wrong"),
    [
        ("The annual interest rate in percentage.", 0.05, True),
        ("The annual interest rate in percentage.", 5, False),
        ("The annual interest rate as a decimal.", 5, True),
        ("The annual interest rate as a decimal.", 0.05, False),
        ("The annual interest rate.", 0.05, False),
        ("The annual interest rate.", 5, False),
    ],
)
def test_a_percentage_is_passed_in_the_form_the_parameter_documents(
    doc: str, value: float, wrong: bool
) -> None:
    request = "Compound interest on $10000 at 5% for 5 years."
    tools = [_tool("interest", rate=doc)]
    calls = _call("interest", principal=10000, rate=value, years=5)
    error = misread_argument(calls, request, tools)
    assert (error is not None) is wrong
    if wrong:
        assert "rate" in error and "'5%'" in error


def test_the_grounded_check_repairs_a_misreading_from_the_slm_only() -> None:
    check = grounded_check(TRAFFIC)
    calls = _call(start_location="Los Angeles", end_location="Las Vegas")
    backwards = Completion(text="", model="m", kind="local", tool_calls=tuple(calls))
    assert "swap them" in (check("slm", backwards) or "")
    assert check("llm", backwards) is None


@pytest.mark.parametrize(
    ("request_text", "arguments"),
    [
        ("Area under y=3x^2 + 2x - 4 between 1 and 2.", {"c": -4, "a": 1, "b": 2}),
        ("Charges of 1e-9 and 2e-9 at 0.05 m.", {"q1": 1e-9, "q2": 2e-9, "d": 0.05}),
        ("Vegan restaurants open until at least 11 PM.", {"closes": 23}),
        ("Meet at 3pm.", {"hour": 15}),
    ],
)
def test_signs_exponents_and_afternoon_hours_are_read_as_given(
    request_text: str, arguments: dict[str, object]
) -> None:
    assert ungrounded_argument(_call(**arguments), request_text) is None


def test_an_afternoon_hour_does_not_ground_other_numbers() -> None:
    assert ungrounded_argument(_call(closes=24), "Open until 11 PM.") is not None
    assert ungrounded_argument(_call(hour=13), "Meet at 1 am.") is not None


def test_the_strict_dial_fails_a_value_only_the_tool_docs_give() -> None:
    request = "Who are the top chess players?"
    tools = [_tool("ranking", limit="How many players. Default is 10.")]
    reply = Completion(
        text="", model="m", kind="local", tool_calls=tuple(_call("ranking", limit=10))
    )
    assert grounded_check(request, tools)("slm", reply) is None
    strict = grounded_check(request, tools, documented_values=False)("slm", reply)
    assert strict is not None and "limit=10" in strict
    # The misreadings still read the docs under the strict dial.
    percent = [_tool("interest", rate="The rate in percentage.")]
    fraction = Completion(
        text="", model="m", kind="local", tool_calls=tuple(_call("interest", rate=0.05))
    )
    error = grounded_check("Interest at 5%.", percent, documented_values=False)("slm", fraction)
    assert error is not None and "percentage" in error


def test_words_given_once_may_fill_one_parameter_only() -> None:
    request = "What is the musical scale associated with C sharp major?"
    twice = _call("musical_scale", key="C sharp major", scale_type="major")
    error = misread_argument(twice, request)
    assert error is not None and "key='C sharp major'" in error and "'major' once" in error
    assert (
        misread_argument(_call("musical_scale", key="C sharp", scale_type="major"), request) is None
    )
    # Written twice in the request, the words may fill two parameters.
    both = "Play the major chord, then the C sharp major scale."
    assert misread_argument(twice, both) is None
    # Part of a word is not the word: "Lisbon" is not inside "Lisbonne".
    assert misread_argument(_call(event="Treaty of Lisbonne", city="Lisbon"), "Lisbon") is None


def _place_tool(doc: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {
            "name": "lawyer_find_nearby",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": doc}},
            },
        },
    }


@pytest.mark.parametrize(
    ("doc", "city", "wrong"),
    [
        ("The city and state, e.g. Chicago, IL.", "Chicago", True),
        ("The city and state, e.g. Chicago, IL.", "Chicago, IL", False),
        ("The city and state, e.g. San Francisco, CA", "Boston", True),
        ("The city, e.g. Chicago.", "Chicago", False),
        ("The city and state.", "Chicago", False),
    ],
)
def test_a_place_takes_the_region_its_docs_example_shows(doc: str, city: str, wrong: bool) -> None:
    request = "Find a divorce lawyer in Chicago."
    error = misread_argument(_call("lawyer_find_nearby", city=city), request, [_place_tool(doc)])
    assert (error is not None) is wrong
    if wrong:
        assert f"city={city!r}" in error and "region" in error
