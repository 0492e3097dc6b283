"""Answer questions with the local SLM and escalate only the doubtful ones to the remote LLM.

The SLM (SmolLM2-135M, in-process through llama.cpp) drafts an answer, then judges its own draft
from its logits (the probability it gives to "yes" vs "no", not a number it writes). Drafts it
doubts go to the remote LLM: the embedded OpenAI-compatible server over HTTP through LiteLLM,
or any provider model given with ``--llm`` (e.g. ``--llm openai/gpt-4o-mini``). A live view
shows each step; a final table shows calls, tokens, cost and latency per model.

    collab run cascade_qa
"""

from __future__ import annotations

import argparse
import operator
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

import collab

DEFAULT_QUESTIONS = [
    "What is the capital of France?",
    "What is 17 multiplied by 23?",
    "Which planet is the largest in the solar system?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the chemical symbol for gold?",
]


class QAState(TypedDict, total=False):
    question: str
    draft: str
    confidence: float
    answer: str
    answered_by: str
    calls: Annotated[list[collab.Completion], operator.add]


def build_graph(slm: collab.LocalModel, llm: collab.Model, *, threshold: float):
    """draft (SLM) -> judge (SLM logits) -> answer, or -> escalate (LLM) when unsure."""

    def draft(state: QAState) -> QAState:
        done = slm.complete(
            [
                {"role": "system", "content": "Answer in one short sentence."},
                {"role": "user", "content": state["question"]},
            ],
            max_tokens=48,
        )
        return {"draft": done.text.strip(), "calls": [done]}

    def judge(state: QAState) -> QAState:
        prompt = (
            f"Question: {state['question']}\nProposed answer: {state['draft']}\n"
            "Is the proposed answer correct? Answer yes or no."
        )
        yes, _no = slm.score(prompt, ["yes", "no"])
        return {"confidence": yes}

    def accept(state: QAState) -> QAState:
        return {"answer": state["draft"], "answered_by": slm.name}

    def escalate(state: QAState) -> QAState:
        done = llm.complete(
            [
                {"role": "system", "content": "Answer in one short sentence."},
                {"role": "user", "content": state["question"]},
            ],
            max_tokens=64,
        )
        return {"answer": done.text.strip(), "answered_by": llm.name, "calls": [done]}

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


@dataclass
class Tally:
    """Calls, tokens, cost and latency per model."""

    rows: dict[str, list[collab.Completion]] = field(default_factory=dict)

    def add(self, completion: collab.Completion) -> None:
        self.rows.setdefault(f"{completion.model} ({completion.kind})", []).append(completion)

    def table(self) -> Table:
        table = Table(title="cost by model")
        for column in ("model", "calls", "tokens in", "tokens out", "cost (USD)", "latency (s)"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for model, calls in self.rows.items():
            costs = [c.cost_usd for c in calls]
            cost = "unknown" if None in costs else f"{sum(c or 0.0 for c in costs):.6f}"
            table.add_row(
                model,
                str(len(calls)),
                str(sum(c.usage.prompt_tokens for c in calls)),
                str(sum(c.usage.completion_tokens for c in calls)),
                cost,
                f"{sum(c.latency_s for c in calls):.2f}",
            )
        return table


def steps_table(steps: list[tuple[str, str, str]]) -> Table:
    table = Table(title="steps", expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("step", width=9)
    table.add_column("detail", overflow="fold")
    for i, (_question, step, detail) in enumerate(steps, 1):
        table.add_row(str(i), step, detail)
    return table


def describe(node: str, update: QAState) -> str:
    if node == "draft":
        return f"SLM draft: {update['draft']!r}"
    if node == "judge":
        return f"SLM confidence the draft is right: {update['confidence']:.2f}"
    if node == "accept":
        return f"answer kept from {update['answered_by']}"
    return f"escalated, {update['answered_by']} answered: {update['answer']!r}"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="collab run cascade_qa", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="*", help="questions (default: five built-in ones)")
    parser.add_argument(
        "--threshold", type=float, default=0.3, help="escalate below this (0-1; uncalibrated)"
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    args = parser.parse_args(argv or [])
    questions = args.questions or DEFAULT_QUESTIONS
    console = Console()
    started = time.perf_counter()
    with ExitStack() as stack:
        with console.status("loading the local SLM and starting the remote LLM..."):
            slm = stack.enter_context(collab.LocalModel.from_catalog("smollm2-135m-instruct"))
            llm = stack.enter_context(collab.default_llm(args.llm))
        graph = build_graph(slm, llm, threshold=args.threshold)
        tally = Tally()
        steps: list[tuple[str, str, str]] = []
        answers: list[tuple[str, str, str]] = []
        with Live(steps_table(steps), console=console, refresh_per_second=8) as live:
            for question in questions:
                steps.append((question, "question", question))
                live.update(steps_table(steps))
                final: QAState = {}
                for chunk in graph.stream({"question": question}, stream_mode="updates"):
                    for node, update in chunk.items():
                        final.update(update)
                        for call in update.get("calls", []):
                            tally.add(call)
                        steps.append((question, node, describe(node, update)))
                        live.update(steps_table(steps))
                answers.append((question, final["answer"], final["answered_by"]))
        summary = Table(title="answers")
        for column in ("question", "answer", "by"):
            summary.add_column(column, overflow="fold")
        for row in answers:
            summary.add_row(*row)
        escalated = sum(1 for _, _, by in answers if by == llm.name)
        console.print(Group(summary, tally.table()))
        console.print(
            f"{escalated} of {len(answers)} questions escalated to the remote LLM "
            f"(threshold {args.threshold}); wall time {time.perf_counter() - started:.1f} s"
        )
    return 0


if __name__ == "__main__":
    import asyncio
    import sys

    sys.exit(asyncio.run(main(sys.argv[1:])))
