"""Budgets on the real models: SmolLM2 in-process and the embedded server over HTTP."""

from __future__ import annotations

import asyncio

import pytest

import collab
from collab import Budget, BudgetExceeded, Run
from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer

pytestmark = pytest.mark.integration

QUESTIONS = [
    "What is the capital of France?",
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three colours of the rainbow, please, with commas."},
    ],
    "Explain in one sentence why the sky is blue, for a child of seven years old.",
]


def test_local_calls_are_metered_exactly(smollm2: LocalModel) -> None:
    slm = collab.metered(smollm2)
    with Run(budget=Budget(local_tokens=10_000)) as run:
        done = slm.complete("Say hello.", max_tokens=8)
        streamed = "".join(slm.stream("Say goodbye.", max_tokens=8))
        probs = slm.score("Is ice cold? Answer yes or no.", ["yes", "no"])
    complete, stream, score = run.ledger.records
    assert (complete.prompt_tokens, complete.completion_tokens) == (
        done.usage.prompt_tokens,
        done.usage.completion_tokens,
    )
    assert complete.prompt_tokens == smollm2.count_prompt_tokens("Say hello.")
    assert 0 < stream.completion_tokens <= 8 and streamed
    assert score.prompt_tokens > 0 and sum(probs) == pytest.approx(1.0)
    assert all(r.kind == "local" and r.cost_usd == 0.0 and r.cpu_s > 0 for r in run.ledger.records)
    assert run.meter.spent()["local_tokens"] == sum(
        r.prompt_tokens + r.completion_tokens for r in run.ledger.records
    )


def test_remote_reservation_covers_what_the_server_bills(embedded: EmbeddedServer) -> None:
    llm = collab.metered(embedded.remote_model())
    with Run() as run:
        for prompt in QUESTIONS:
            reserved = llm.count_prompt_tokens(prompt)
            done = llm.complete(prompt, max_tokens=16)
            assert done.usage.prompt_tokens <= reserved, (prompt, done.usage, reserved)
    assert [r.kind for r in run.ledger.records] == ["remote"] * len(QUESTIONS)
    assert all(r.cost_usd and r.cost_usd > 0 for r in run.ledger.records)


def test_a_usd_budget_on_the_embedded_llm_is_never_exceeded(embedded: EmbeddedServer) -> None:
    llm = collab.metered(embedded.remote_model())
    worst = llm.count_prompt_tokens("Count to three.")
    per_call = llm.prices.cost_usd(worst, 12)  # type: ignore[union-attr]
    cap = 3.5 * per_call  # room for three worst-case calls, never four at once

    async def ask() -> str:
        try:
            await llm.acomplete("Count to three.", max_tokens=12)
        except BudgetExceeded:
            return "refused"
        return "ok"

    run = Run(budget=Budget(usd=cap))

    async def main() -> list[str]:
        async with run:
            return await asyncio.gather(*(ask() for _ in range(8)))

    outcomes = asyncio.run(main())
    assert outcomes.count("ok") >= 3 and "refused" in outcomes
    assert run.meter.spent()["usd"] <= cap
    assert len([r for r in run.ledger.records if r.outcome == "ok"]) == outcomes.count("ok")
