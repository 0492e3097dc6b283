"""Program verifiers: docstring examples run in the sandbox; tool-call shape checks."""

from __future__ import annotations

import json

from collab.evaluation.verifiers import (
    Arithmetic,
    DocstringExamples,
    FirstVerdict,
    ToolCallShape,
    docstring_examples,
)

PROMPT = '''def add(a: int, b: int) -> int:
    """Add two numbers.
    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
'''
QUESTION = f"Complete this Python function:\n\n```python\n{PROMPT}```"


def test_doctest_and_arrow_examples_are_found() -> None:
    source = '''def f(x):
    """Doubles.
    >>> f(2)
    4
    f(3) ➞ 6
    f(1) == 2
    Example: f is nice
    """
'''
    found = [(e.call, e.expected) for e in docstring_examples(source, "f")]
    assert found == [("f(2)", "4"), ("f(3)", "6"), ("f(1)", "2")]


def test_a_right_draft_passes_and_a_wrong_one_fails() -> None:
    verify = DocstringExamples()
    right = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"
    wrong = "```python\ndef add(a: int, b: int) -> int:\n    return a - b\n```"
    assert verify(QUESTION, right) == 1.0
    assert verify(QUESTION, wrong) == 0.0


def test_a_crashing_or_hanging_draft_fails() -> None:
    verify = DocstringExamples(timeout_s=2.0)
    assert verify(QUESTION, "def add(a, b):\n    raise ValueError") == 0.0
    assert verify(QUESTION, "def add(a, b):\n    while True: pass") == 0.0


def test_no_examples_is_no_evidence() -> None:
    question = '```python\ndef g(x):\n    """Something."""\n```'
    assert DocstringExamples(no_evidence=0.4)(question, "def g(x):\n    return x") == 0.4


FUNCTIONS = [
    {
        "name": "area",
        "description": "Area of a rectangle.",
        "parameters": {
            "type": "dict",
            "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}},
            "required": ["width"],
        },
    }
]
CALL_QUESTION = f"Functions (JSON):\n{json.dumps(FUNCTIONS)}\n\nQuestion: area of 3 by 4?"


def test_a_well_formed_call_passes_the_shape_check() -> None:
    assert ToolCallShape()(CALL_QUESTION, "area(width=3, height=4)") == 1.0
    assert ToolCallShape()(CALL_QUESTION, "area(width=3)") == 1.0


def test_malformed_or_hallucinated_calls_fail_the_shape_check() -> None:
    check = ToolCallShape()
    assert check(CALL_QUESTION, "volume(width=3)") == 0.0  # not offered
    assert check(CALL_QUESTION, "area(height=4)") == 0.0  # required missing
    assert check(CALL_QUESTION, "area(width=3, depth=2)") == 0.0  # unknown parameter
    assert check(CALL_QUESTION, "area(width='3')") == 0.0  # wrong type
    assert check(CALL_QUESTION, "area(width=True)") == 0.0  # a bool is not an integer
    assert check(CALL_QUESTION, "I cannot help") == 0.0
    assert check(CALL_QUESTION, "[area(width=1), area(width=2)]") == 0.0  # two calls
    assert check("no functions here", "area(width=3)") == 0.5


def test_arithmetic_recomputes_the_one_operation_asked() -> None:
    check = Arithmetic().check
    assert check("What is 17 multiplied by 23?", "17 times 23 is 391.") == 1.0
    assert check("What is 17 multiplied by 23?", "17 multiplied by 23 equals 411.") == 0.0
    assert check("What is 25% of 640?", "It is 160.") == 1.0
    assert check("What is the square root of 169?", "13") == 1.0
    assert check("What is 144 divided by 12?", "144 divided by 12 is 1.44") == 0.0
    assert check("What is 1,200 plus 34?", "It is 1,234.") == 1.0
    assert check("What is 3 plus 4 times 2?", "11") is None  # two operations: not checked
    assert check("Who wrote Hamlet?", "Shakespeare") is None


def test_the_first_verifier_with_something_to_check_decides_else_the_fallback() -> None:
    asked: list[str] = []

    def fallback(question: str, draft: str, prompt: str) -> float:
        asked.append(question)
        return 0.25

    judge = FirstVerdict(DocstringExamples(), Arithmetic(), fallback=fallback)
    assert judge.verdict("What is 2 plus 2?", "4") == (1.0, "arithmetic")
    assert judge.verdict(QUESTION, "def add(a, b):\n    return a * b") == (
        0.0,
        "docstring-examples",
    )
    assert judge("Who wrote Hamlet?", "Shakespeare") == 0.25
    assert asked == ["Who wrote Hamlet?"]
