"""BFCL: reading a model's call, and the AST checker on cases taken from the real data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collab.errors import PullError
from collab.evaluation.bfcl import ast_match, format_question, load_bfcl
from collab.evaluation.bfcl_checker import check_calls, parse_calls
from collab.evaluation.datasets import Dataset, Item

# simple_python_0, simple_python_89 and multiple_4 of bfcl-eval 2026.3.23, as in its data files.
TRIANGLE = {
    "name": "calculate_triangle_area",
    "description": "Calculate the area of a triangle given its base and height.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer", "description": "The base of the triangle."},
            "height": {"type": "integer", "description": "The height of the triangle."},
            "unit": {
                "type": "string",
                "description": "The unit of measure (defaults to 'units' if not specified)",
            },
        },
        "required": ["base", "height"],
    },
}
TRIANGLE_ANSWER = [
    {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}
]
RECORDS = {
    "name": "db_fetch_records",
    "description": "Fetch records from a specified database table based on certain conditions.",
    "parameters": {
        "type": "dict",
        "properties": {
            "database_name": {"type": "string", "description": "The name of the database."},
            "table_name": {"type": "string", "description": "The name of the table."},
            "conditions": {
                "type": "dict",
                "properties": {
                    "department": {"type": "string", "description": "The department."},
                    "school": {"type": "string", "description": "The school."},
                },
                "description": "The conditions based on which records are to be fetched.",
            },
            "fetch_limit": {"type": "integer", "description": "Default is 0 (no limit)."},
        },
        "required": ["database_name", "table_name", "conditions"],
    },
}
RECORDS_ANSWER = [
    {
        "db_fetch_records": {
            "database_name": ["StudentDB"],
            "table_name": ["students"],
            "conditions": [
                {"department": ["Science"], "school": ["Bluebird High School", "Bluebird HS"]}
            ],
            "fetch_limit": ["", 0],
        }
    }
]


def _kinematics(name: str, number: str) -> dict[str, Any]:
    properties = {
        p: {"type": number, "description": p} for p in ("initial_speed", "acceleration", "time")
    }
    properties["rounding"] = {"type": "integer", "description": "decimals (optional)", "default": 2}
    required = ["initial_speed", "acceleration", "time"]
    return {
        "name": name,
        "parameters": {"type": "dict", "properties": properties, "required": required},
    }


KINEMATICS = [
    _kinematics("kinematics.calculate_displacement", "integer"),
    _kinematics("kinematics.calculate_final_speed", "float"),
]
KINEMATICS_ANSWER = [
    {
        "kinematics.calculate_displacement": {
            "initial_speed": [20],
            "acceleration": [10],
            "time": [5],
            "rounding": ["", 2],
        }
    }
]


def simple(text: str) -> tuple[bool, str]:
    check = check_calls([TRIANGLE], parse_calls(text), TRIANGLE_ANSWER, category="simple")
    return check.valid, check.error_type


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "calculate_triangle_area(base=10, height=5)",
        "[calculate_triangle_area(base=10, height=5)]",
        "```python\ncalculate_triangle_area(base=10, height=5)\n```",
        "Sure! Here is the call: calculate_triangle_area(base=10, height=5).",
        '{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}',
        '[{"name": "calculate_triangle_area", "arguments": "{\\"base\\": 10, \\"height\\": 5}"}]',
        '```json\n[{"function": "calculate_triangle_area", "parameters": {"base": 10, "height": 5}}'
        "]\n```",
        '{"calculate_triangle_area": {"base": 10, "height": 5}}',
        "calculate_triangle_area(base=2*5, height=+5)",
    ],
)
def test_calls_are_read_from_python_json_and_prose(text: str) -> None:
    assert parse_calls(text) == [{"calculate_triangle_area": {"base": 10, "height": 5}}]


def test_values_are_read_without_evaluating_code() -> None:
    [call] = parse_calls("f(a=-1.5, b=[1, 'x'], c={'k': (1, 2)}, d=x, e=__import__('os').getcwd())")
    assert call == {
        "f": {
            "a": -1.5,
            "b": [1, "x"],
            "c": {"k": (1, 2)},
            "d": "x",
            "e": "__import__('os').getcwd()",
        }
    }
    assert parse_calls("g(n=10**1000)") == [{"g": {"n": "10 ** 1000"}}]  # not computed
    assert parse_calls("[f(a=1), g(b=2)]") == [{"f": {"a": 1}}, {"g": {"b": 2}}]


@pytest.mark.parametrize("text", ["", "I cannot help with that.", "```\n```", "[1, 2]"])
def test_answers_without_a_call_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_calls(text)


# -- checking --------------------------------------------------------------------------------


def test_the_right_call_passes_with_or_without_its_optional_parameter() -> None:
    assert simple("calculate_triangle_area(base=10, height=5)") == (True, "")
    assert simple("calculate_triangle_area(base=10, height=5, unit='Units')") == (True, "")


@pytest.mark.parametrize(
    ("text", "error_type"),
    [
        ("triangle_area(base=10, height=5)", "wrong_func_name"),
        ("calculate_triangle_area(base=10, height=6)", "value_error:others"),
        ("calculate_triangle_area(base=10)", "missing_required"),
        ("calculate_triangle_area(10, 5)", "missing_required"),  # BFCL reads keywords only
        ("calculate_triangle_area(base=10, height=5, color='red')", "unexpected_param"),
        ("calculate_triangle_area(base='10', height=5)", "type_error:simple"),
        ("calculate_triangle_area(base=10, height=5, unit='cm')", "value_error:string"),
        (
            "[calculate_triangle_area(base=10, height=5), "
            "calculate_triangle_area(base=1, height=2)]",
            "simple:wrong_count",
        ),
    ],
)
def test_wrong_calls_fail_for_the_right_reason(text: str, error_type: str) -> None:
    assert simple(text) == (False, error_type)


def test_dict_arguments_match_case_and_punctuation_insensitively() -> None:
    def check(conditions: str, more: str = "") -> bool:
        text = (
            "db_fetch_records(database_name='StudentDB', table_name='students', "
            f"conditions={conditions}{more})"
        )
        return check_calls([RECORDS], parse_calls(text), RECORDS_ANSWER, category="simple").valid

    assert check("{'department': 'science', 'school': 'Bluebird H.S.'}")
    assert check("{'department': 'Science', 'school': 'Bluebird High School'}", ", fetch_limit=0")
    assert not check("{'department': 'Arts', 'school': 'Bluebird HS'}")
    assert not check("{'department': 'Science'}")  # the school is not optional


def test_multiple_checks_the_expected_function_among_several() -> None:
    def check(text: str) -> tuple[bool, str]:
        result = check_calls(KINEMATICS, parse_calls(text), KINEMATICS_ANSWER, category="multiple")
        return result.valid, result.error_type

    right = "kinematics.calculate_displacement(initial_speed=20, acceleration=10, time=5)"
    assert check(right) == (True, "")
    assert check(right.replace("time=5", "time=5, rounding=2")) == (True, "")
    assert check(right.replace("displacement", "final_speed")) == (False, "wrong_func_name")
    assert check(right.replace("time=5", "time=5.0")) == (False, "type_error:simple")


def test_an_int_passes_for_a_float() -> None:
    speed = dict(KINEMATICS_ANSWER[0]["kinematics.calculate_displacement"])
    answer = [{"kinematics.calculate_final_speed": {**speed, "initial_speed": [20.0]}}]
    call = "kinematics.calculate_final_speed(initial_speed=20, acceleration=10, time=5)"
    assert check_calls(KINEMATICS, parse_calls(call), answer, category="multiple").valid


def test_ast_match_scores_an_item() -> None:
    item = Item(
        id="simple_python_0",
        input=format_question("Find the area of a triangle with base 10 and height 5.", [TRIANGLE]),
        reference=json.dumps(TRIANGLE_ANSWER),
        extra={"functions": [TRIANGLE], "ground_truth": TRIANGLE_ANSWER, "category": "simple"},
    )
    assert '"name": "calculate_triangle_area"' in item.input
    assert ast_match(item, "calculate_triangle_area(base=10, height=5)") == 1.0
    assert ast_match(item, "The area is 25.") == 0.0


# -- the real data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bfcl() -> dict[str, Dataset]:
    try:
        return {c: load_bfcl(c) for c in ("simple_python", "multiple")}
    except PullError as exc:  # PyPI unreachable: nothing to test against
        pytest.skip(f"BFCL data not available: {exc}")


def test_the_wheel_holds_both_categories(bfcl: dict[str, Dataset]) -> None:
    assert (len(bfcl["simple_python"]), len(bfcl["multiple"])) == (400, 200)
    first = bfcl["simple_python"].items[0]
    assert first.id == "simple_python_0" and first.extra["functions"] == [TRIANGLE]
    assert first.extra["ground_truth"] == TRIANGLE_ANSWER
    assert bfcl["multiple"].items[4].extra["ground_truth"] == KINEMATICS_ANSWER


def _first_acceptable(values: list[Any]) -> Any:
    value = next(v for v in values if v != "")
    if isinstance(value, dict):
        return {k: _first_acceptable(v) for k, v in value.items() if any(x != "" for x in v)}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_first_acceptable([v]) for v in value]
    return value


def test_every_ground_truth_call_passes_and_a_changed_one_fails(bfcl: dict[str, Dataset]) -> None:
    for dataset in bfcl.values():
        for item in dataset.items:
            name, params = next(iter(item.extra["ground_truth"][0].items()))
            given = {k: _first_acceptable(v) for k, v in params.items() if any(x != "" for x in v)}
            call = f"{name}({', '.join(f'{k}={v!r}' for k, v in given.items())})"
            assert ast_match(item, call) == 1.0, (item.id, call)
            assert ast_match(item, call.replace(name, name + "_v2", 1)) == 0.0, item.id
