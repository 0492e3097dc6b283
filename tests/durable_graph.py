"""A three-step graph of remote calls, checkpointed, run as its own process.

    python -m durable_graph DB API_BASE THREAD [--hang-before c]

DB is a SQLite file, or a ``postgresql://`` URL for LangGraph's Postgres checkpointer.

Prints ``step <name>`` as each step starts and, when the graph finishes, ``ledger <json>``.
With ``--hang-before c`` it stops at the start of step c (after a and b were paid and
checkpointed) and waits to be killed: how the durable-run test kills it for real.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

import collab
from collab import ModelPrice, RemoteModel
from collab.graph import LedgerState, invoke, node

STEPS = ("a", "b", "c")


class State(LedgerState):
    answers: dict[str, str]


def build(llm: RemoteModel, hang_before: str | None) -> StateGraph:
    builder = StateGraph(State)
    previous = START
    for name in STEPS:
        builder.add_node(name, _step(llm, name, hang_before))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder


def _step(llm: RemoteModel, name: str, hang_before: str | None) -> Any:
    @node(name=name, role="worker")
    def step(state: State) -> dict[str, Any]:
        print(f"step {name}", flush=True)
        if name == hang_before:
            time.sleep(600)  # killed here
        answer = llm.complete(f"do step {name}", max_tokens=16).text
        return {"answers": {**state.get("answers", {}), name: answer}}

    return step


@contextmanager
def _saver(db: str) -> Iterator[Any]:
    if db.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(db) as saver:
            saver.setup()  # creates or migrates the tables (idempotent)
            yield saver
        return
    with SqliteSaver.from_conn_string(db) as saver:
        yield saver


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("api_base")
    parser.add_argument("thread")
    parser.add_argument("--hang-before")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    llm = collab.metered(
        RemoteModel(
            "openai/durable-test",
            api_base=args.api_base,
            api_key="sk-local",
            max_retries=0,
            prices=ModelPrice(input_per_mtok_usd=1000.0, output_per_mtok_usd=2000.0),
        )
    )
    config = {"configurable": {"thread_id": args.thread}}
    with _saver(args.db) as saver:
        graph = build(llm, args.hang_before).compile(checkpointer=saver)
        result = invoke(graph, None if args.resume else {"answers": {}}, config)
    print(f"ledger {result.ledger.to_json()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
