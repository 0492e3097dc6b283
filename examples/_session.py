"""What every example shares: its two models, one budgeted run shown live, the ledger after.

with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
    with session.live():
        ...                          # invoke the pattern: metered by session.run
    session.print_ledger("node", "model")
    session.print_trace_note()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass

from rich.console import Console

import collab
from collab.budget.ledger import GroupBy
from collab.tracing import trace_run

__all__ = ["SLM", "Session", "open_session", "saving_line"]

SLM = "smollm2-135m-instruct"
"""The catalog model the examples run locally unless they choose another (fast, weak)."""


@dataclass(frozen=True)
class Session:
    """The local SLM, the remote LLM, and the run (entered) that meters the example."""

    slm: collab.LocalModel
    llm: collab.Model
    run: collab.Run
    console: Console
    trace: str | None = None
    """The JSONL file the run's events go to, if any."""

    def live(self) -> AbstractContextManager[object]:
        """The run's live view (and its JSONL trace, when asked for)."""
        return trace_run(self.run, jsonl=self.trace, live=True, console=self.console)

    def print_ledger(self, *groupings: GroupBy) -> None:
        for by in groupings:
            self.console.print(self.run.ledger.rich_table(by, title=f"ledger by {by}"))

    def print_trace_note(self) -> None:
        if self.trace:
            self.console.print(f"trace written to {self.trace}")


@contextmanager
def open_session(
    console: Console,
    *,
    budget: collab.Budget,
    llm: str | None = None,
    trace: str | None = None,
    speculative: bool = False,
    slm: str = SLM,
) -> Iterator[Session]:
    """Load the SLM (catalog name ``slm``), start (or reach) the remote LLM, and enter a run
    with ``budget`` that degrades to the SLM and prices its saving against the LLM."""
    with ExitStack() as stack:
        with console.status("loading the local SLM and starting the remote LLM..."):
            local = stack.enter_context(
                collab.LocalModel.from_catalog(slm, speculative=speculative)
            )
            remote = stack.enter_context(collab.default_llm(llm))
        run = stack.enter_context(collab.Run(budget=budget, local_model=local, remote_model=remote))
        yield Session(local, remote, run, console, trace)


def saving_line(run: collab.Run) -> str:
    """What the run's remote spend was, against the same calls on the remote LLM alone."""
    saving = run.saving()
    if saving.all_remote_usd is None:
        return f"this run: ${saving.actual_usd:.6f}; the remote LLM has no price to compare"
    share = saving.actual_usd / saving.all_remote_usd if saving.all_remote_usd else 0.0
    return (
        f"this run: ${saving.actual_usd:.6f} of remote spend; the same calls on "
        f"{saving.remote_model} alone: ${saving.all_remote_usd:.6f}: "
        f"spent {share:.0%} of the LLM-only cost (saved {saving.saved_pct or 0.0:.0f}%)"
    )
