"""Ask about a long document the remote LLM never reads: it writes jobs, SLM workers read chunks.

The document (default: collab's docs/budgets.md, about 10,000 tokens, longer than a
worker reads at once) is cut into chunks. The remote LLM (the embedded OpenAI-compatible server
over HTTP through LiteLLM, or any provider model given with ``--llm``) sees only the question
and the number of chunks, and writes jobs as JSON; SmolLM2-135M (in-process through llama.cpp)
runs each job on the chunks BM25 ranks best for it (``--chunks-per-job``); replies of NONE
are dropped; the LLM reads the rest and answers, or asks for one more round. The end shows
the answer, the findings, and the remote tokens against the LLM reading the whole document.

    collab run minions_qa
    collab run minions_qa -- "Which budget policy asks a human?" --file docs/budgets.md
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from collab.examples._session import open_session
from collab.patterns.minions import MinionsConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import minions

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "docs" / "budgets.md"
DEFAULT_QUESTION = "Which budget policy stops the graph and asks a human?"
CHUNKS_PER_JOB = 4
"""Each job runs on the 4 chunks BM25 ranks best for it: a small worker given a chunk with
nothing for its job often makes a finding up (``MinionsConfig.chunks_per_job``)."""


def build_graph(
    slm: collab.Model,
    llm: collab.Model,
    *,
    max_rounds: int = 2,
    chunks_per_job: int | None = CHUNKS_PER_JOB,
) -> Any:
    """The MinionS pattern: split -> plan (LLM) -> work (SLM per chunk) -> aggregate (LLM)."""
    config = MinionsConfig(
        chunk_tokens=300,
        max_rounds=max_rounds,
        max_jobs=2,
        max_tasks=48,
        chunks_per_job=chunks_per_job,
    )
    return minions.build(slm=slm, llm=llm, config=config)


def findings_table(final: dict[str, Any]) -> Table:
    table = Table(title="what the workers found (all the LLM read)")
    for column in ("round", "chunk", "job", "finding"):
        table.add_column(column, overflow="fold")
    for f in final["details"]["findings"]:
        table.add_row(str(f["round"]), str(f["chunk"]), f["instruction"], f["output"])
    return table


def cost_line(details: dict[str, Any]) -> str:
    ratio = details["remote_token_ratio"]
    return (
        f"{details['worker_calls']} worker calls on {details['chunks']} chunks in "
        f"{details['rounds']} round(s), {details['dropped']} found nothing; remote tokens "
        f"{details['remote_tokens']} vs {details['baseline_remote_tokens']} for the LLM "
        f"reading everything ({ratio:.2f}x)"
    )


def _chunk_count(text: str) -> int:
    value = int(text)  # argparse reports a ValueError as an invalid value
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (every chunk) or more, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run minions_qa", description=__doc__.split("\n")[0]
    )
    parser.add_argument("question", nargs="?", default=DEFAULT_QUESTION)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the document")
    parser.add_argument("--max-rounds", type=int, default=2)
    parser.add_argument(
        "--chunks-per-job",
        type=_chunk_count,
        default=CHUNKS_PER_JOB,
        help=f"chunks each job runs on, the best by BM25 (default {CHUNKS_PER_JOB}; 0: all)",
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.002, help="remote spend cap in USD (default 0.002)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    document = args.file.read_text(encoding="utf-8")
    console = Console()
    budget = collab.Budget(usd=args.budget_usd, policy="degrade")
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        graph = build_graph(
            session.slm,
            session.llm,
            max_rounds=args.max_rounds,
            chunks_per_job=args.chunks_per_job or None,
        )
        with session.live():
            final = await graph.ainvoke({"question": args.question, "document": document})
        console.print(findings_table(final))
        console.print(f"[bold]{args.question}[/bold]\n{final['answer']}")
        console.print(cost_line(final["details"]))
        session.print_ledger("node", "model")
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
