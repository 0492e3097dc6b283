"""Answer questions with tools: the remote LLM plans, the local SLM makes each tool call.

The LLM (the embedded OpenAI-compatible server, Qwen2.5-Coder-1.5B, or any LiteLLM model given
with ``--llm``) writes a typed plan: which tool each step calls, and what for. Each step runs on
the SLM (Qwen2.5-Coder-0.5B, in-process through llama.cpp) as tool caller, its output
constrained by grammar to a valid call of that step's tool; invalid arguments are repaired by
the SLM, then handed to the LLM; a step that still fails sends the LLM back to re-plan. The
tools: a calculator (arithmetic only, via ``ast``), a file reader confined to a small folder of
company notes, and a search over a few policy documents. The LLM answers from the results.

Everything runs in a ``collab.Run`` with a budget; the table shows each step's tool, arguments,
result and caller, then the ledger.

    collab run plan_execute_agent
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from collab.examples._session import open_session, saving_line
from collab.patterns.plan_execute import PlanExecuteConfig, StepRun
from collab.patterns.plan_tools import calculator, corpus_search, file_reader
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import plan_execute

SLM = "qwen2.5-coder-0.5b-instruct"
"""Its chat template takes tools; grammar-constrained, it writes valid calls."""

NOTES = {
    "shipping.txt": "Shipping costs 7 euros per parcel inside the EU and 19 euros outside.",
    "team/oncall.txt": "This week Ada is on call; next week Grace.",
}
POLICIES = {
    "returns": "Customers may return an item within 30 days of delivery for a full refund.",
    "warranty": "Electronics carry a 2 year warranty; furniture 5 years.",
    "support": "Support answers within 2 working days.",
}
DEFAULT_QUESTIONS = [
    "What is 17 * 23 + 4?",
    "How much does shipping 3 parcels inside the EU cost? The prices are in shipping.txt.",
    "For how many weeks can customers return an item? Search the policies.",
]


def write_notes(folder: Path) -> Path:
    """The example's documents folder (the only place ``read_file`` may read)."""
    for name, text in NOTES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def build_graph(slm: collab.Model, llm: collab.Model, *, folder: Path) -> Any:
    """plan (LLM) -> execute each step (SLM tool caller; repairs; LLM) -> answer (LLM)."""
    tools = [calculator, file_reader(folder), corpus_search(POLICIES)]
    config = PlanExecuteConfig(max_repairs=1, max_replans=1, plan_max_tokens=384)
    return plan_execute.build(slm=slm, llm=llm, tools=tools, config=config)


def steps_table(question: str, steps: list[StepRun]) -> Table:
    table = Table(title=question)
    for column in ("round", "step", "tool", "arguments", "result", "by", "repairs"):
        table.add_column(column, overflow="fold")
    for s in steps:
        table.add_row(
            str(s.round),
            str(s.number),
            s.tool,
            json.dumps(s.arguments),
            (s.result or f"FAILED: {s.error}")[:120],
            s.called_by or "",
            str(s.repairs),
        )
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run plan_execute_agent", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="*", help="questions (default: three built-in ones)")
    parser.add_argument("--slm", default=SLM, help=f"catalog name of the local tool caller ({SLM})")
    parser.add_argument("--llm", help="LiteLLM model string for the planner (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.01, help="remote spend cap in USD (default 0.01)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    budget = collab.Budget(usd=args.budget_usd, policy="degrade")
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_session(
            console, budget=budget, llm=args.llm, trace=args.trace, slm=args.slm
        ) as session,
    ):
        graph = build_graph(session.slm, session.llm, folder=write_notes(Path(tmp)))
        with session.live():
            finals = [
                (q, graph.invoke({"question": q})) for q in args.questions or DEFAULT_QUESTIONS
            ]
        for question, final in finals:
            result = plan_execute.result_of(final)
            console.print(steps_table(question, result.details["steps"]))
            if result.details["failure"]:
                console.print(f"[red]the plan failed[/]: {result.details['failure']}")
            console.print(f"[bold]answer[/] ({result.answered_by}): {result.answer}\n")
        session.print_ledger("node", "model")
        console.print(saving_line(session.run))
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
