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
from contextlib import ExitStack
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from rich.console import Console
from rich.table import Table

import collab
from collab.graph import node
from collab.tracing import trace_run

DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "What is 17 multiplied by 23?",
    "Which planet is the largest in the solar system?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the chemical symbol for gold?",
]
SYSTEM = {"role": "system", "content": "Answer in one short sentence."}


class QAState(TypedDict, total=False):
    question: str
    draft: str
    confidence: float
    answer: str
    answered_by: str


def build_graph(slm: collab.Model, llm: collab.Model, *, threshold: float) -> Any:
    """draft (SLM) -> judge (SLM logits) -> answer, or -> escalate (LLM) when unsure."""

    @node(role="drafter")
    def draft(state: QAState) -> QAState:
        stream = slm.stream([SYSTEM, {"role": "user", "content": state["question"]}], max_tokens=48)
        return {"draft": "".join(stream).strip()}

    @node(role="judge")
    def judge(state: QAState) -> QAState:
        prompt = (
            f"Question: {state['question']}\nProposed answer: {state['draft']}\n"
            "Is the proposed answer correct? Answer yes or no."
        )
        yes, _no = slm.score(prompt, ["yes", "no"])  # type: ignore[attr-defined]
        return {"confidence": yes}

    def accept(state: QAState) -> QAState:
        return {"answer": state["draft"], "answered_by": slm.name}

    @node(role="answerer")
    def escalate(state: QAState) -> QAState:
        done = llm.complete([SYSTEM, {"role": "user", "content": state["question"]}], max_tokens=64)
        return {"answer": done.text.strip(), "answered_by": done.model}

    def route(state: QAState) -> str:
        return "accept" if state["confidence"] >= threshold else "escalate"

    graph = StateGraph(QAState)
    graph.add_node("draft", draft)
    graph.add_node("judge", judge)
    graph.add_node("accept", accept)
    graph.add_node("escalate", escalate)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "judge")
    graph.add_conditional_edges("judge", route, ["accept", "escalate"])
    graph.add_edge("accept", END)
    graph.add_edge("escalate", END)
    return graph.compile()


def answers_table(rows: list[tuple[str, QAState]]) -> Table:
    table = Table(title="answers")
    for column in ("question", "answer", "confidence", "by"):
        table.add_column(
            column, overflow="fold", justify="right" if column == "confidence" else "left"
        )
    for question, final in rows:
        table.add_row(question, final["answer"], f"{final['confidence']:.2f}", final["answered_by"])
    return table


def saving_line(run: collab.Run) -> str:
    saving = run.saving()
    if saving.all_remote_usd is None:
        return f"this run: ${saving.actual_usd:.6f}; the remote LLM has no price to compare"
    return (
        f"this run: ${saving.actual_usd:.6f} of remote spend; the same calls on "
        f"{saving.remote_model} alone: ${saving.all_remote_usd:.6f} "
        f"(saved {saving.saved_pct or 0.0:.0f}%)"
    )


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
    with ExitStack() as stack:
        with console.status("loading the local SLM and starting the remote LLM..."):
            slm = stack.enter_context(collab.LocalModel.from_catalog("smollm2-135m-instruct"))
            llm = stack.enter_context(collab.default_llm(args.llm))
        graph = build_graph(slm, llm, threshold=args.threshold)
        run = stack.enter_context(collab.Run(budget=budget, local_model=slm, remote_model=llm))
        finals: list[tuple[str, QAState]] = []
        with trace_run(run, jsonl=args.trace, live=True, console=console):
            for question in questions:
                finals.append((question, graph.invoke({"question": question})))
        console.print(answers_table(finals))
        console.print(run.ledger.rich_table("model", title="ledger by model"))
        console.print(run.ledger.rich_table("node", title="ledger by node"))
        escalated = sum(1 for _, final in finals if final["answered_by"] != slm.name)
        degraded = run.ledger.total().degraded
        console.print(
            f"{escalated} of {len(finals)} questions answered by the remote LLM, "
            f"{degraded} degraded to the SLM by the budget (threshold {args.threshold}); "
            f"wall time {time.perf_counter() - started:.1f} s"
        )
        console.print(saving_line(run))
        if args.trace:
            console.print(f"trace written to {args.trace}")
    return 0


if __name__ == "__main__":
    import asyncio
    import sys

    sys.exit(asyncio.run(main(sys.argv[1:])))
