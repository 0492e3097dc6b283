"""Grade the local SLM's answers with the remote LLM: a 1-5 score per question, and the mean.

SmolLM2-135M answers each question in-process; the LLM (the embedded OpenAI-compatible server
over HTTP through LiteLLM, or any provider model given with ``--llm``) grades each answer
against its reference as structured output ({score, reason}). An invalid grade is retried
once, then counted as a failed grade. Everything runs in one ``collab.Run`` with a budget; the
end shows every grade, the mean score and the ledger.

    collab run grade_slm
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from collab.examples._session import open_session
from collab.patterns.llm_judges_slm import GradingConfig, SLMEvaluation
from rich.console import Console
from rich.table import Table
from rich.text import Text

import collab
from collab.patterns import llm_judges_slm

DEFAULT_QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is 17 multiplied by 23?", "391"),
    ("Who wrote the novel Pride and Prejudice?", "Jane Austen"),
]


def grading_config(*, pass_score: int = 4) -> GradingConfig:
    return GradingConfig(pass_score=pass_score, answer_max_tokens=48, grade_max_tokens=96)


def build_graph(slm: collab.Model, llm: collab.Model, *, pass_score: int = 4) -> Any:
    """The grading pattern: answer (SLM) -> grade (LLM, structured {score, reason}); what
    ``evaluate_slm`` runs for each question."""
    return llm_judges_slm.build(slm=slm, llm=llm, config=grading_config(pass_score=pass_score))


def grades_table(report: SLMEvaluation, questions: list[tuple[str, str]]) -> Table:
    table = Table(title="grades")
    for column in ("question", "reference", "SLM answer", "grade"):
        table.add_column(column, overflow="fold")
    for (question, reference), result in zip(questions, report.results, strict=True):
        grade = result.verdicts[0].reason or ""  # "4/5: why", or why there is no grade
        table.add_row(question, reference, Text(result.answer), Text(grade))
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run grade_slm", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--qa",
        nargs=2,
        action="append",
        metavar=("QUESTION", "REFERENCE"),
        help="a question and its reference answer (repeat; default: three built-in ones)",
    )
    parser.add_argument("--pass-score", type=int, default=4, help="a grade that passes (1-5)")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.001, help="remote spend cap in USD (default 0.001)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    questions = [tuple(qa) for qa in args.qa] if args.qa else DEFAULT_QUESTIONS
    config = grading_config(pass_score=args.pass_score)
    console = Console()
    started = time.perf_counter()
    budget = collab.Budget(usd=args.budget_usd, policy="degrade")
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        slm, llm, run = session.slm, session.llm, session.run
        with session.live():
            report = llm_judges_slm.evaluate_slm(
                questions, slm=slm, llm=llm, config=config, run=run
            )
        console.print(grades_table(report, questions))  # type: ignore[arg-type]
        mean = "no valid grade" if report.mean_score is None else f"{report.mean_score:.2f}/5"
        console.print(
            f"mean score {mean}; {report.pass_rate:.0%} at {args.pass_score}/5 or above; "
            f"{sum(r.degraded for r in report.results)} graded by the SLM itself (budget); "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        session.print_ledger("role")
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
