"""Answer questions with the local SLM and escalate only the doubtful ones to the remote LLM.

The SLM (Qwen2.5-Coder-0.5B, in-process through llama.cpp) drafts an answer, and the draft is
judged by what can check it best: code by running the docstring's own examples in a sandbox,
arithmetic by recomputing it, anything else by the SLM's own logits (the probability it gives
to "yes" vs "no", not a number it writes). Drafts that fail go to the remote LLM: the embedded
OpenAI-compatible server (Qwen2.5-Coder-1.5B) over HTTP through LiteLLM, or any provider model
given with ``--llm`` (e.g. ``--llm openai/gpt-4o-mini``).

Everything runs inside a ``collab.Run`` with a budget: every call is metered, the live view shows
each step, the tokens as they stream and the spend against the budget as bars, and the end shows
the ledger and what the same calls would have cost on the remote LLM alone. When the budget no
longer fits a remote call, policy "degrade" (the default) answers with the SLM instead.

    collab run cascade_qa
    collab run cascade_qa -- --budget-usd 0.0003 --trace trace.jsonl
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from collab.examples._session import open_session, saving_line
from collab.patterns.cascade import CascadeConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.evaluation.humaneval import extract_code
from collab.evaluation.verifiers import Arithmetic, DocstringExamples, FirstVerdict
from collab.patterns import cascade

SLM = "qwen2.5-coder-0.5b-instruct"
"""Chosen by measurement: far stronger than SmolLM2-135M at 4x its cost (docs/models.md)."""

CODE_EASY = '''Complete this Python function; reply with the whole function in one code block.

```python
def is_leap_year(year: int) -> bool:
    """Whether year is a leap year in the Gregorian calendar.
    >>> is_leap_year(2024)
    True
    >>> is_leap_year(1900)
    False
    >>> is_leap_year(2000)
    True
    """
```'''
CODE_HARD = '''Complete this Python function; reply with the whole function in one code block.

```python
def run_lengths(s: str) -> list[tuple[str, int]]:
    """Run-length encode s, case-insensitively, keeping each run's first character.
    >>> run_lengths("aaAbBB c")
    [('a', 3), ('b', 3), (' ', 1), ('c', 1)]
    >>> run_lengths("")
    []
    """
```'''
DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "Who wrote the novel Pride and Prejudice?",
    "What is 17 multiplied by 23?",
    "What is 25% of 640?",
    "What is the chemical symbol for gold?",
    CODE_EASY,
    CODE_HARD,
]
SYSTEM = "Answer correctly and briefly, in one short sentence."


def build_graph(slm: collab.Model, llm: collab.Model, *, threshold: float) -> Any:
    """The cascade pattern: draft (SLM) -> judge (program checks, else the SLM's logits) ->
    accept, or -> escalate (LLM)."""
    # No hint: a draft that failed its check only anchors the LLM to the same mistake.
    config = CascadeConfig(
        threshold=threshold,
        system=SYSTEM,
        draft_max_tokens=256,
        answer_max_tokens=384,
        hint=False,
    )
    self_check = cascade.self_check(collab.metered(slm))  # its calls are metered too
    judge = FirstVerdict(DocstringExamples(), Arithmetic(), fallback=self_check)
    return cascade.build(slm=slm, llm=llm, config=config, judge=judge)


def answers_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title="answers")
    for column in ("question", "answer", "judged by", "confidence", "by", "final check"):
        table.add_column(
            column, overflow="fold", justify="right" if column == "confidence" else "left"
        )
    for question, final in rows:
        judged_by = final["verdicts"][0]["judge"] if final.get("verdicts") else ""
        table.add_row(
            _short(question),
            _short(final["answer"], 160),
            judged_by,
            f"{final['confidence']:.2f}",
            final["answered_by"],
            _final_check(question, final["answer"]),
        )
    return table


def _final_check(question: str, answer: str) -> str:
    """The program checks run again on the final answer: what a user can trust."""
    for verifier in (DocstringExamples(), Arithmetic()):
        verdict = verifier.check(question, answer)
        if verdict is not None:
            return "passes" if verdict == 1.0 else "FAILS"
    return "-"


def _short(text: str, width: int = 60) -> str:
    """A question or an answer in a line or two: code is shown by its function's signature."""
    signature = re.search(r"^\s*def\s+[^\n]*", text, re.MULTILINE)
    if signature is not None and "```" in text:
        lines = len(extract_code(text).strip().splitlines())
        return f"{signature.group(0).strip()} ... ({lines} lines of code)"
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run cascade_qa", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "questions", nargs="*", help="questions (default: seven built-in ones, code included)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.4,
        help="escalate below this (0-1): program checks give 0 or 1; the SLM's self-check "
        "gives a probability",
    )
    parser.add_argument("--slm", default=SLM, help=f"catalog name of the local SLM ({SLM})")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.002, help="remote spend cap in USD (default 0.002)"
    )
    parser.add_argument("--budget-remote-tokens", type=int, help="cap on remote tokens")
    parser.add_argument(
        "--policy",
        choices=["degrade", "raise"],
        default="degrade",
        help="when a remote call no longer fits: answer with the SLM, or stop with an error",
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    questions = args.questions or DEFAULT_QUESTIONS
    budget = collab.Budget(
        usd=args.budget_usd, remote_tokens=args.budget_remote_tokens, policy=args.policy
    )
    console = Console()
    started = time.perf_counter()
    with open_session(
        console, budget=budget, llm=args.llm, trace=args.trace, slm=args.slm
    ) as session:
        slm, llm, run = session.slm, session.llm, session.run
        graph = build_graph(slm, llm, threshold=args.threshold)
        finals: list[tuple[str, dict[str, Any]]] = []
        with session.live():
            for question in questions:
                finals.append((question, graph.invoke({"question": question})))
        console.print(answers_table(finals))
        session.print_ledger("model", "node")
        escalated = sum(1 for _, final in finals if final["answered_by"] != slm.name)
        degraded = run.ledger.total().degraded
        console.print(
            f"{escalated} of {len(finals)} questions answered by the remote LLM, "
            f"{degraded} degraded to the SLM by the budget (threshold {args.threshold}); "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        console.print(saving_line(run))
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
