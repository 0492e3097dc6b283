"""Route each question to the local SLM or the remote LLM before anyone answers.

A router looks at the question alone and gives p_easy, the probability that the SLM
(SmolLM2-135M, in-process through llama.cpp) answers it right; the SLM answers when p_easy
reaches the threshold, else the remote LLM does (the embedded OpenAI-compatible server over
HTTP through LiteLLM, or any provider model given with ``--llm``). Nobody answers twice.

Two routers: ``knn`` (default) first lets the SLM answer a few labelled questions, then routes
each new question by whether the SLM got its nearest labelled neighbours right (SmolLM2
embeddings); ``difficulty`` asks the SLM "can a small model answer this?" and reads its
probability of "yes" from the logits. Everything runs in a ``collab.Run`` with a budget: the
live view shows each step, and the end shows the routes, the ledger and the saving.

    collab run router_qa
    collab run router_qa -- --router difficulty --threshold 0.45 --trace trace.jsonl
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from collab.examples._session import open_session, saving_line
from collab.patterns.common import PatternResult, arun_graph
from collab.patterns.router import NeighbourRouter, RouterConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import router

DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "What is 17 multiplied by 23?",
    "What colour is grass?",
    "What is the cube root of 4913?",
    "Who wrote the novel Pride and Prejudice?",
]
LABELLED_QA = [
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What colour is a clear daytime sky?", "blue"),
    ("How many legs does a spider have?", "eight"),
    ("What is 48 multiplied by 37?", "1776"),
    ("What is the square root of 7921?", "89"),
    ("What is 913 minus 478?", "435"),
    ("Who painted the Mona Lisa?", "Leonardo"),
]
"""What the knn router learns from: the SLM answers each once, and "contains" marks it."""


def router_config(*, threshold: float, k: int) -> RouterConfig:
    return RouterConfig(threshold=threshold, k=k, slm_max_tokens=48, llm_max_tokens=64)


def knn_router(
    slm: collab.Model, *, config: RouterConfig
) -> tuple[NeighbourRouter, list[tuple[str, bool]]]:
    """A router that votes with ``LABELLED_QA``, labelled by whether the SLM answers it right."""
    with collab.scope(node="label", role="labeller"):
        labelled = router.label_examples(LABELLED_QA, slm=slm, config=config)
    return NeighbourRouter(labelled, model=slm, k=config.k), labelled


def build_graph(
    slm: collab.Model, llm: collab.Model, *, config: RouterConfig, chosen: router.RouterSpec
) -> Any:
    """The router pattern: route (p_easy) -> slm_answer | llm_answer. ``chosen=None``: the
    SLM's own difficulty estimate."""
    return router.build(slm=slm, llm=llm, config=config, router=chosen)


def routes_table(rows: list[tuple[str, PatternResult]]) -> Table:
    table = Table(title="routes")
    for column in ("question", "p_easy", "route", "answer", "by"):
        table.add_column(column, overflow="fold", justify="right" if column == "p_easy" else "left")
    for question, result in rows:
        table.add_row(
            question,
            f"{result.details['p_easy']:.2f}",
            result.details["route"] + (" (degraded)" if result.degraded else ""),
            result.answer,
            result.answered_by,
        )
    return table


def labels_table(labelled: list[tuple[str, bool]]) -> Table:
    table = Table(title="what the knn router learned: did the SLM answer right?")
    table.add_column("labelled question")
    table.add_column("SLM right")
    for question, right in labelled:
        table.add_row(question, "yes" if right else "no")
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run router_qa", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="*", help="questions (default: five built-in ones)")
    parser.add_argument(
        "--router", choices=["knn", "difficulty"], default="knn", help="how p_easy is estimated"
    )
    parser.add_argument("--k", type=int, default=3, help="neighbours that vote (knn)")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="the SLM answers at or above this p_easy"
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.0002, help="remote spend cap in USD (default 0.0002)"
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
    questions = args.questions or DEFAULT_QUESTIONS
    config = router_config(threshold=args.threshold, k=args.k)
    budget = collab.Budget(usd=args.budget_usd, policy=args.policy)
    console = Console()
    started = time.perf_counter()
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        slm, llm, run = session.slm, session.llm, session.run
        results: list[tuple[str, PatternResult]] = []
        labelled: list[tuple[str, bool]] = []
        with session.live():
            chosen: router.RouterSpec = None  # the SLM's own difficulty estimate
            if args.router == "knn":
                chosen, labelled = knn_router(slm, config=config)
            graph = build_graph(slm, llm, config=config, chosen=chosen)
            for question in questions:
                result = await arun_graph(graph, {"question": question}, run=run)
                results.append((question, result))
        if labelled:
            console.print(labels_table(labelled))
        console.print(routes_table(results))
        session.print_ledger("node", "model")
        to_llm = sum(1 for _, r in results if r.escalated)
        console.print(
            f"{to_llm} of {len(results)} questions routed to the remote LLM "
            f"({args.router} router, threshold {args.threshold}), "
            f"{run.ledger.total().degraded} degraded to the SLM by the budget; "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        console.print(saving_line(run))
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
