"""Tool calls checked against their request: flags the request names, values no call uses."""

from __future__ import annotations

import pytest
from collab.patterns.call_grounding import ungrounded_argument, unused_value

from collab.types import ToolCall


def _calls(*arguments: dict[str, object], name: str = "f") -> list[ToolCall]:
    return [ToolCall(id=f"c{i}", name=name, arguments=a) for i, a in enumerate(arguments)]


def test_a_flag_turned_on_must_be_named_by_the_request() -> None:
    request = "Get case 28473 with its history; standardization too."
    named = _calls({"case": "28473", "include_history": True, "standardize": True})
    assert ungrounded_argument(named, request) is None
    assert ungrounded_argument(_calls({"case": "28473", "extraInfo": False}), request) is None
    invented = ungrounded_argument(_calls({"case": "28473", "extra_info": True}), request)
    assert invented is not None and "extra_info=True" in invented


@pytest.mark.parametrize(
    ("request_text", "arguments"),
    [
        ("Pythagoras of 3 and 4.", [{"a": 3, "b": 4}]),
        ("Invest $1,500 at 5% for 2 years.", [{"amount": 1500, "rate": 0.05, "years": 2}]),
        ("Invest $1,500 at 5% for 2 years.", [{"amount": 1500.0, "rate": 5, "years": 2}]),
        ("A payout of 50 million USD.", [{"payout": 50_000_000, "currency": "USD"}]),
        ("Book 3 nights from May 12, 2022.", [{"nights": 3, "start": "2022-05-12"}]),
        ("Vegan places open until 22:00.", [{"hours": 22}]),
        ("The protein of BRCA1 on June01.", [{"gene": "BRCA1"}]),
        ("Integrate 'x^3' from 2 to 5.", [{"f": "x^3", "a": 2, "b": 5}]),
        (
            "Weather in Los Angeles, CA and Seattle, WA.",
            [{"city": "Los Angeles, CA"}, {"city": "Seattle, WA"}],
        ),
        ("Biography of Pope Innocent III.", [{"name": "Innocent III"}]),
        ("Use the 'histogram' function on [1, 2].", [{"data": [1, 2]}]),
        ("The emission factor is 0 here.", [{"factor": 0}]),
        ("Charges of 1e-9 and 2E-9 at 0.05 m.", [{"q1": 1e-09, "q2": 2e-09, "d": 0.05}]),
    ],
)
def test_values_the_calls_use_pass(request_text: str, arguments: list[dict[str, object]]) -> None:
    assert unused_value(_calls(*arguments, name="histogram"), request_text) is None


@pytest.mark.parametrize(
    ("request_text", "arguments", "unused"),
    [
        ("Pythagoras of 3 and 4, 5 and 12.", [{"a": 3, "b": 4}], "'5'"),
        ("Cases 28473 and 64725, please.", [{"case": "28473"}], "'64725'"),
        (
            "The Persian Empire and Mauryan Empire.",
            [{"empire": "Persian Empire"}],
            "'Mauryan Empire'",
        ),
        ("Distance between Mars and Venus.", [{"from": "Venus"}], "'Mars'"),
        ("Drive from New York, USA to Miami.", [{"start": "New York", "end": "Miami"}], "'USA'"),
        ("Rates of 1.5% and 2.1% for 10 years.", [{"rate": 0.015, "years": 10}], "'2.1%'"),
        ("Leaves at 09:30 or 11:15.", [{"time": "09:30"}], "'11:15'"),
        ("Review 'great food' and 'slow service'.", [{"text": "great food"}], "'slow service'"),
        ("Charges of 1e-9 and 3e-9.", [{"q1": 1e-09, "q2": 1.0}], "'3e-9'"),
    ],
)
def test_a_value_no_call_uses_is_named(
    request_text: str, arguments: list[dict[str, object]], unused: str
) -> None:
    found = unused_value(_calls(*arguments), request_text)
    assert found is not None and unused in found


RANKING = {
    "type": "function",
    "function": {
        "name": "ranking",
        "description": "A player's ranking.",
        "parameters": {
            "type": "object",
            "properties": {
                "player": {"type": "string"},
                "gender": {"type": "string", "default": "all"},
                "state": {"type": "string", "description": "The state. Default is California."},
                "rate": {"type": "number"},
                "count": {"type": "integer"},
                "date": {"type": "string"},
            },
        },
    },
}


def test_values_written_another_way_or_documented_by_the_tool_are_grounded() -> None:
    request = "Rank Serena Williams, top four, at 5% from May 12, 2022."
    fine = _calls(
        {"player": "Serena Williams", "rate": 0.05, "count": 4, "date": "2022-05-12"},
        {"gender": "all", "state": "California"},
        name="ranking",
    )
    assert ungrounded_argument(fine, request, [RANKING]) is None
    assert "'all'" in (ungrounded_argument(fine, request) or "")  # without the tool's docs
    wrong = _calls({"gender": "female"}, name="ranking")
    found = ungrounded_argument(wrong, request, [RANKING])
    assert found is not None and "'female'" in found
    june = _calls({"date": "2022-06-12"}, name="ranking")  # June is not May
    assert "2022-06-12" in (ungrounded_argument(june, request, [RANKING]) or "")
    seven = _calls({"count": 7}, name="ranking")
    assert "7" in (ungrounded_argument(seven, request, [RANKING]) or "")


@pytest.mark.parametrize(
    ("request_text", "value", "grounded"),
    [
        ("What are the three great Schisms in Christianity history?", "Christian", False),
        ("What are the three great Schisms in Christianity history?", "Christianity", True),
        ("Search for famous contemporary sculptures in New York.", "sculpture", True),
        ("Tickets for two children.", "child", True),
        ("Convert 150 Euros to Canadian dollars.", "EUR", True),  # a code may be in a word
        ("Four circles of radius 5m.", "m", True),  # a unit after its number
        ("Locate a library in Boston, Massachusetts.", "Boston, MA", False),
    ],
)
def test_a_value_is_a_whole_word_of_the_request_not_part_of_one(
    request_text: str, value: str, grounded: bool
) -> None:
    found = ungrounded_argument(_calls({"x": value}), request_text)
    assert (found is None) is grounded
    if not grounded:
        assert repr(value) in (found or "")


def test_the_strict_dial_takes_an_enum_member_the_request_names_in_part() -> None:
    museum = {
        "type": "function",
        "function": {
            "name": "museum_info",
            "parameters": {
                "type": "object",
                "properties": {
                    "information": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["opening_hours", "ticket_price"]},
                    },
                    "language": {"type": "string", "enum": ["english", "french"]},
                },
            },
        },
    }
    request = "Find the working hours and ticket price of The British Museum."
    hours = _calls({"information": ["opening_hours", "ticket_price"]}, name="museum_info")
    assert ungrounded_argument(hours, request, [museum], documented_values=False) is None
    # A member the request does not name at all is still only the docs' word.
    french = _calls({"language": "french"}, name="museum_info")
    strict = ungrounded_argument(french, request, [museum], documented_values=False)
    assert strict is not None and "'french'" in strict
    assert ungrounded_argument(french, request, [museum]) is None  # the lenient dial takes it
