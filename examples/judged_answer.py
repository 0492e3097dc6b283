"""Answer from sources with the remote LLM; local judges check the answer and ask for repairs.

The LLM (the embedded OpenAI-compatible server over HTTP through LiteLLM, or any provider model
given with ``--llm``) answers the question from the numbered sources. Before the answer is
returned, SmolLM2-135M judges it in-process: a rubric, groundedness of every sentence against
the sources (P("yes") from its logits), and a format guard that wants the sources cited as
[1], [2]. A failed answer goes back to the LLM with the judges' reasons, at most
``--max-repairs`` times; every attempt is shown with its verdicts, then the ledger by role.

    collab run judged_answer
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from collab.examples._session import open_session
from collab.patterns.common import arun_graph
from collab.patterns.slm_judges_llm import (
    AnswerJudge,
    Attempt,
    FormatGuard,
    GroundednessJudge,
    JudgedAnswerConfig,
    RubricJudge,
    Scorer,
)
from rich.console import Console
from rich.table import Table
from rich.text import Text

import collab
from collab.patterns import slm_judges_llm

DEFAULT_QUESTION = "When was the Eiffel Tower completed, and how tall is it?"
DEFAULT_SOURCES = [
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "The tower was completed in 1889 as the centrepiece of the World's Fair.",
    "It is 330 metres tall, and was the tallest man-made structure in the world until 1930.",
]
SYSTEM = (
    "Answer the question in one or two sentences, using only the numbered sources. "
    "Cite the sources you use by number, like [1]."
)


def build_judges(slm: Scorer, *, threshold: float) -> list[AnswerJudge]:
    """A rubric and groundedness on the SLM (P("yes") at least ``threshold``), and a format
    guard that wants the sources cited as [1], [2]."""
    return [
        RubricJudge(
            model=slm,
            criteria=["The answer responds to the question that was asked."],
            threshold=threshold,
        ),
        GroundednessJudge(model=slm, threshold=threshold),
        FormatGuard(
            regex=r"\[\d+\]",
            regex_hint="cite the sources by number, like [1]",
            max_chars=600,
            banned=["as an AI"],
        ),
    ]


def build_graph(
    slm: collab.LocalModel | collab.ScriptedModel,
    llm: collab.Model,
    *,
    threshold: float = 0.5,
    max_repairs: int = 2,
) -> Any:
    """The judged answer: answer (LLM) -> judge (SLM, format) -> (repair -> judge)* -> finish.

    Its final state keeps the attempts as dicts: read it with ``slm_judges_llm.result_of``.
    """
    config = JudgedAnswerConfig(max_repairs=max_repairs, system=SYSTEM, answer_max_tokens=96)
    judges = build_judges(slm, threshold=threshold)
    return slm_judges_llm.build(llm=llm, slm=slm, judges=judges, config=config)


def attempts_table(attempts: list[Attempt]) -> Table:
    table = Table(title="attempts (the first answer, then each repair)")
    table.add_column("#", justify="right")
    table.add_column("answer", overflow="fold", ratio=2)
    table.add_column("verdicts (p / threshold)", overflow="fold", ratio=3)
    for i, attempt in enumerate(attempts):
        verdicts = Text()
        for v in attempt.verdicts:
            verdicts.append("pass " if v.passed else "fail ", style="green" if v.passed else "red")
            verdicts.append(f"{v.judge} {v.probability:.2f}/{v.threshold:.2f}: {v.reason or ''}\n")
        verdicts.rstrip()
        table.add_row(str(i), Text(attempt.answer), verdicts)
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run judged_answer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("question", nargs="?", default=DEFAULT_QUESTION)
    parser.add_argument(
        "--source", action="append", help="a source text (repeat; default: three built-in ones)"
    )
    parser.add_argument("--max-repairs", type=int, default=2, help="repairs allowed (default 2)")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="P(yes) each SLM judge needs (0-1)"
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.001, help="remote spend cap in USD (default 0.001)"
    )
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
    sources = args.source or DEFAULT_SOURCES
    budget = collab.Budget(usd=args.budget_usd, policy=args.policy)
    console = Console()
    started = time.perf_counter()
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        slm, llm, run = session.slm, session.llm, session.run
        graph = build_graph(slm, llm, threshold=args.threshold, max_repairs=args.max_repairs)
        with session.live():
            result = await arun_graph(
                graph,
                {"question": args.question, "sources": sources},
                run=run,
                read=slm_judges_llm.result_of,
            )
        console.print(attempts_table(result.details["attempts"]))
        console.print(
            Text.assemble(("answer", "bold"), f" ({result.answered_by}): {result.answer}")
        )
        verdict = "[green]passed" if result.details["passed"] else "[red]not passed"
        console.print(
            f"{verdict}[/] after {result.details['repairs']} repair(s)"
            f"{' (degraded to the SLM by the budget)' if result.degraded else ''}; "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        session.print_ledger("role", "model")
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
