"""A many-step graph of paid remote calls, checkpointed in SQLite, run as its own process to
be killed at random points.

    python -m crash_graph DB PAID_LOG THREAD STEPS

Each step makes one call to a scripted remote model that appends ``<pid> <step>`` to PAID_LOG
(flushed and fsynced) the moment the call is paid, with short random sleeps before and after,
so a kill can land before, during or after a payment and before or after a checkpoint. The
process picks up the thread where its checkpoint left it, prints ``ready`` just before the
graph starts and ``ledger <json>`` once it has finished.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

import collab
from collab import ScriptedModel
from collab.graph import LedgerState, invoke, ledger_of, node
from collab.types import Completion, Prompt

JITTER_S = 0.01


class State(LedgerState):
    answers: dict[str, str]


class PaidRemote(ScriptedModel):
    """A scripted remote model that logs each call it is paid for."""

    def __init__(self, log: Path) -> None:
        super().__init__(
            lambda messages: "done " + messages[-1].content.split()[-1],
            name="paid-remote",
            kind="remote",
            cost_per_token_usd=0.001,
        )
        self.log = log

    def complete(self, prompt: Prompt, *, max_tokens: int = 256, **options: Any) -> Completion:
        time.sleep(random.uniform(0, JITTER_S))
        completion = super().complete(prompt, max_tokens=max_tokens, **options)
        step = completion.text.split()[-1]
        with self.log.open("a") as log:  # paid: the provider has billed it
            log.write(f"{os.getpid()} {step}\n")
            log.flush()
            os.fsync(log.fileno())
        time.sleep(random.uniform(0, JITTER_S))
        return completion


def steps(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(n)]  # sorted as they run


def build(llm: Any, n: int) -> StateGraph:
    builder = StateGraph(State)
    previous = START
    for name in steps(n):
        builder.add_node(name, _step(llm, name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder


def _step(llm: Any, name: str) -> Any:
    @node(name=name, role="worker")
    def step(state: State) -> dict[str, Any]:
        answer = llm.complete(f"do step {name}", max_tokens=4).text
        return {"answers": {**state.get("answers", {}), name: answer}}

    return step


def main(argv: list[str]) -> None:
    db, paid_log, thread, n = argv[0], Path(argv[1]), argv[2], int(argv[3])
    llm = collab.metered(PaidRemote(paid_log))
    config = {"configurable": {"thread_id": thread}}
    with SqliteSaver.from_conn_string(db) as saver:
        graph = build(llm, n).compile(checkpointer=saver)
        state = graph.get_state(config)
        print("ready", flush=True)
        if state.values and not state.tasks:  # finished before: nothing left to pay
            ledger = ledger_of(state.values)
        else:
            first = {"answers": {}} if not state.values else None
            ledger = invoke(graph, first, config).ledger
    print(f"ledger {ledger.to_json()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
