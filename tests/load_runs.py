"""Many cascade runs at once on scripted models, and what the ledgers must say about them.

Used by tests/unit/test_load.py (200 runs; 2000 behind ``slow``) and bench/load.py. The
scripted models sleep a little at random, so calls of different runs interleave; each keeps
what it was asked, so a test can compare the ledgers with the calls the models really saw.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from collab.patterns.common import PatternResult

from collab import Budget, Ledger, Run, ScriptedModel
from collab.patterns import cascade
from collab.types import Message

RATE_USD = 0.001
"""The remote model's price per token."""


class SleepyModel(ScriptedModel):
    """A ``ScriptedModel`` that sleeps up to ``jitter_s`` before each answer and each score,
    and counts its scores (``ScriptedModel.calls`` holds the generations)."""

    def __init__(self, reply: str, *, jitter_s: float, **options: object) -> None:
        super().__init__(lambda _: reply, **options)  # type: ignore[arg-type]
        self.jitter_s = jitter_s
        self.scored = 0
        self._count_lock = threading.Lock()

    def _nap(self) -> None:
        if self.jitter_s:
            time.sleep(random.uniform(0, self.jitter_s))

    def _next_reply(self, messages: list[Message], max_tokens: int) -> tuple[str, str]:
        self._nap()
        return super()._next_reply(messages, max_tokens)

    def score(self, prompt: str, options: list[str]) -> list[float]:
        self._nap()
        with self._count_lock:
            self.scored += 1
        return [0.2, 0.8]  # a doubtful draft: every run escalates to the remote model


@dataclass
class Models:
    slm: SleepyModel
    llm: SleepyModel

    @classmethod
    def make(cls, jitter_s: float = 0.002) -> Models:
        return cls(
            slm=SleepyModel("maybe 42", jitter_s=jitter_s, name="slm", kind="local"),
            llm=SleepyModel(
                "42", jitter_s=jitter_s, name="llm", kind="remote", cost_per_token_usd=RATE_USD
            ),
        )

    def seen(self) -> Counter[str]:
        """Calls each model really made, by model name."""
        return Counter({"slm": len(self.slm.calls) + self.slm.scored, "llm": len(self.llm.calls)})

    def paid_usd(self) -> float:
        """What the remote model would bill for the calls it saw (words x rate)."""
        return (
            sum(
                sum(self.llm.count_tokens(m.content) for m in messages) + 1  # the answer "42"
                for messages in self.llm.calls
            )
            * RATE_USD
        )


def questions(n: int) -> list[str]:
    return [f"question {i}: what is six times seven?" for i in range(n)]


def threaded(n: int, run_one: Callable[[str], PatternResult], workers: int = 16) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_one, questions(n)))


async def gathered(n: int, run_one: Callable[[str], object]) -> list:
    return await asyncio.gather(*(run_one(q) for q in questions(n)))  # type: ignore[misc]


def shared_run(models: Models, usd: float) -> Run:
    """One run for every invocation, degrading to the SLM once the cap is near."""
    return Run(budget=Budget(usd=usd, policy="degrade"), local_model=models.slm)


def run_threads(n: int, models: Models, *, run: Run | None, usd: float) -> list[PatternResult]:
    def one(question: str) -> PatternResult:
        if run is not None:
            return cascade.run(question, slm=models.slm, llm=models.llm, run=run)
        budget = Budget(usd=usd, policy="degrade")
        return cascade.run(question, slm=models.slm, llm=models.llm, budget=budget)

    return threaded(n, one)


async def run_tasks(n: int, models: Models, *, run: Run | None, usd: float) -> list[PatternResult]:
    async def one(question: str) -> PatternResult:
        if run is not None:
            return await cascade.arun(question, slm=models.slm, llm=models.llm, run=run)
        budget = Budget(usd=usd, policy="degrade")
        return await cascade.arun(question, slm=models.slm, llm=models.llm, budget=budget)

    return await gathered(n, one)


def by_model(ledgers: list[Ledger]) -> Counter[str]:
    """Calls made (refused ones left out), by model name, over ``ledgers``."""
    return Counter(r.model for ledger in ledgers for r in ledger.records if r.made)


def call_ids(ledgers: list[Ledger]) -> list[tuple[str | None, str | None]]:
    return [(r.run_id, r.call_id) for ledger in ledgers for r in ledger.records]
