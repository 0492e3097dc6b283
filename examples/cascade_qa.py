"""Answer questions with the local SLM and escalate only the doubtful ones to the remote LLM.

The SLM (SmolLM2-135M, in-process through llama.cpp) drafts an answer, then judges its own draft
from its logits (the probability it gives to "yes" vs "no", not a number it writes). Drafts it
doubts go to the remote LLM: the embedded OpenAI-compatible server over HTTP through LiteLLM,
or any provider model given with ``--llm`` (e.g. ``--llm openai/gpt-4o-mini``).

Everything runs inside a ``collab.Run`` with a budget: every call is metered, the live view shows
each step, the tokens as they stream and the spend against the budget as bars, and the end shows
the ledger and what the same calls would have cost on the remote LLM alone. When the budget no
longer fits a remote call, policy "degrade" (the default) answers with the SLM instead.

    collab run cascade_qa
    collab run cascade_qa -- --budget-usd 0.0001 --trace trace.jsonl
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from collab.examples._session import open_session, saving_line
from collab.patterns.cascade import CascadeConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import cascade

DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "What is 17 multiplied by 23?",
    "Which planet is the largest in the solar system?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the chemical symbol for gold?",
]
SYSTEM = "Answer in one short sentence."


def build_graph(slm: collab.Model, llm: collab.Model, *, threshold: float) -> Any:
    """The cascade pattern: draft (SLM) -> judge (SLM logits) -> accept, or -> escalate (LLM)."""
    config = CascadeConfig(threshold=threshold, system=SYSTEM, draft_max_tokens=48)
    return cascade.build(slm=slm, llm=llm, config=config)


def answers_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title="answers")
    for column in ("question", "answer", "confidence", "by"):
        table.add_column(
            column, overflow="fold", justify="right" if column == "confidence" else "left"
        )
    for question, final in rows:
        table.add_row(question, final["answer"], f"{final['confidence']:.2f}", final["answered_by"])
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run cascade_qa", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="*", help="questions (default: five built-in ones)")
    parser.add_argument(
        "--threshold", type=float, default=0.3, help="escalate below this (0-1; uncalibrated)"
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.0002, help="remote spend cap in USD (default 0.0002)"
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
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
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
