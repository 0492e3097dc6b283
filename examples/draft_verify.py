"""The local SLM drafts each answer; the remote LLM replies ACCEPT or corrects it.

SmolLM2-135M (in-process through llama.cpp) drafts; the remote LLM (the embedded
OpenAI-compatible server over HTTP through LiteLLM, or any provider model given with
``--llm``) reads the question and the draft and replies ACCEPT, a token or two, when the draft
is right, else the corrected answer. The output tokens an accepted draft saved the LLM are
counted per question. ``--predict`` also sends the draft as an OpenAI predicted output, where
the provider supports it.

Everything runs in a ``collab.Run`` with a budget: the live view shows each step, and the end
shows the verdicts, the tokens saved and the ledger. When the budget no longer fits a verify
call, policy "degrade" (the default) hands it to the SLM and the draft stays, unverified.

    collab run draft_verify
    collab run draft_verify -- --llm openai/gpt-4o-mini --budget-usd 0.01
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from collab.examples._session import open_session
from collab.patterns.common import PatternResult, arun_graph
from collab.patterns.draft_verify import DraftVerifyConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import draft_verify

DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "What is 17 multiplied by 23?",
    "Which planet is the largest in the solar system?",
    "What is the chemical symbol for gold?",
]


def build_graph(slm: collab.Model, llm: collab.Model, *, predict: bool = False) -> Any:
    """The draft-verify pattern: draft (SLM) -> verify (LLM) -> accept | correct | keep_draft."""
    config = DraftVerifyConfig(draft_max_tokens=48, verify_max_tokens=64, predict=predict)
    return draft_verify.build(slm=slm, llm=llm, config=config)


def verdicts_table(rows: list[tuple[str, PatternResult]]) -> Table:
    table = Table(title="drafts and verdicts")
    for column in ("question", "draft", "verdict", "answer", "by", "tokens saved"):
        table.add_column(
            column, overflow="fold", justify="right" if column == "tokens saved" else "left"
        )
    for question, result in rows:
        details = result.details
        verdict = details["verdict"] + (" (degraded)" if result.degraded else "")
        table.add_row(
            question,
            details["draft"],
            verdict,
            result.answer,
            result.answered_by,
            str(details["llm_tokens_saved"]),
        )
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run draft_verify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="*", help="questions (default: four built-in ones)")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--predict", action="store_true", help="send the draft as a predicted output too"
    )
    parser.add_argument(
        "--budget-usd", type=float, default=0.0005, help="remote spend cap in USD (default 0.0005)"
    )
    parser.add_argument(
        "--policy",
        choices=["degrade", "raise"],
        default="degrade",
        help="when a verify call no longer fits: hand it to the SLM, or stop with an error",
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    questions = args.questions or DEFAULT_QUESTIONS
    budget = collab.Budget(usd=args.budget_usd, policy=args.policy)
    console = Console()
    started = time.perf_counter()
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        slm, llm, run = session.slm, session.llm, session.run
        graph = build_graph(slm, llm, predict=args.predict)
        results: list[tuple[str, PatternResult]] = []
        with session.live():
            for question in questions:
                result = await arun_graph(graph, {"question": question}, run=run)
                results.append((question, result))
        console.print(verdicts_table(results))
        session.print_ledger("node")
        accepted = [r for _, r in results if r.details["accepted"]]
        saved = sum(r.details["llm_tokens_saved"] for r in accepted)
        drafted = sum(r.details["draft_tokens"] for _, r in results)
        console.print(
            f"{len(accepted)} of {len(results)} drafts accepted by {llm.name}, "
            f"{sum(1 for _, r in results if r.details['verdict'] == 'corrected')} corrected, "
            f"{run.ledger.total().degraded} verify calls degraded to the SLM by the budget; "
            f"{saved} LLM output tokens saved of {drafted} drafted"
            f"{' (drafts sent as predictions)' if args.predict else ''}; "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
