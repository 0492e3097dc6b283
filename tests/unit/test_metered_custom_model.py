"""A user's own model class, with nothing of collab in it, is metered, budgeted and ledgered
once wrapped (``collab.metered`` / ``run.wrap``): the one seam between models and budgets."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

import pytest

import collab
from collab import Budget, BudgetExceeded, Completion, Run, Usage
from collab.models.base import AsyncCompletionStream, CompletionStream


class Echo:
    """A model written from scratch: echoes the prompt's words, one token per word."""

    def __init__(self, name: str = "echo", kind: str = "remote") -> None:
        self.name, self.kind = name, kind
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _completion(self, text: str, prompt: str) -> Completion:
        usage = Usage(prompt_tokens=len(prompt.split()), completion_tokens=len(text.split()))
        return Completion(text=text, model=self.name, kind=self.kind, usage=usage, cost_usd=None)

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, schema=None):
        self.calls += 1
        text = " ".join(str(prompt).split()[:max_tokens])
        return self._completion(text, str(prompt))

    async def acomplete(self, prompt, *, max_tokens=256, **options):
        await asyncio.sleep(0)
        return self.complete(prompt, max_tokens=max_tokens, **options)

    def stream(self, prompt, *, max_tokens=256, temperature=0.0, stop=None):
        self.calls += 1
        words = str(prompt).split()[:max_tokens]

        def deltas() -> Iterator[str]:
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word

        return CompletionStream(deltas(), lambda text: self._completion(text, str(prompt)))

    def astream(self, prompt, *, max_tokens=256, **_options):
        self.calls += 1
        words = str(prompt).split()[:max_tokens]

        async def deltas() -> AsyncIterator[str]:
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word

        return AsyncCompletionStream(deltas(), lambda text: self._completion(text, str(prompt)))


class Failing(Echo):
    """Fails after the provider billed 3 prompt tokens: it says so on the exception."""

    def complete(self, prompt, **_options):
        error = ConnectionError("dropped after billing")
        error.billed = self._completion("", "one two three")  # type: ignore[attr-defined]
        raise error


def per_token(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    return (prompt_tokens + completion_tokens) * 0.01 if model == "echo" else None


def test_a_custom_model_is_metered_priced_and_ledgered() -> None:
    model = collab.metered(Echo())
    model.complete("not metered outside a run")
    with Run(price=per_token) as run:
        done = model.complete("one two three", max_tokens=2)
    assert done.text == "one two" and done.cost_usd == pytest.approx(0.05)  # priced by the run
    [record] = run.ledger.records
    assert (record.model, record.outcome, record.prompt_tokens, record.completion_tokens) == (
        "echo",
        "ok",
        3,
        2,
    )
    assert run.meter.reserved()["remote_tokens"] == 0


def test_a_custom_model_is_capped_before_it_is_called() -> None:
    echo = Echo()
    with Run(budget=Budget(remote_tokens=30)) as run:
        run.wrap(echo).complete("one two", max_tokens=4)  # 2 + 4 + 16 (message allowance) fits
        with pytest.raises(BudgetExceeded):
            run.wrap(echo).complete("one two three four five six", max_tokens=8)
    assert echo.calls == 1
    assert [r.outcome for r in run.ledger.records] == ["ok", "refused"]


def test_degrade_swaps_a_custom_model_for_the_run_s_local_one() -> None:
    echo, local = Echo(), Echo("small", kind="local")
    budget = Budget(remote_tokens=0, policy="degrade")
    with Run(budget=budget, local_model=local) as run:
        done = collab.metered(echo).complete("hello there")
    assert (done.model, echo.calls, local.calls) == ("small", 0, 1)
    assert run.ledger.records[0].outcome == "degraded"


def test_a_failed_call_settles_what_the_error_says_was_billed() -> None:
    with Run(price=per_token) as run, pytest.raises(ConnectionError):
        collab.metered(Failing()).complete("hi")
    [record] = run.ledger.records
    assert (record.outcome, record.prompt_tokens, record.cost_usd) == ("error", 3, 0.03)


def test_streams_of_a_custom_model_settle_read_abandoned_or_never_read() -> None:
    model = collab.metered(Echo())
    with Run() as run:
        assert "".join(model.stream("a b c")) == "a b c"
        abandoned = model.stream("d e f g")
        next(iter(abandoned))
        unread = model.stream("h i", max_tokens=40)
        assert run.meter.reserved()["remote_tokens"] > 0
        del abandoned, unread
        gc.collect()
        assert run.meter.reserved()["remote_tokens"] == 0
    assert [r.completion_tokens for r in run.ledger.records] == [3, 1, 0]


async def test_async_calls_and_streams_of_a_custom_model_are_metered() -> None:
    model = collab.metered(Echo())
    async with Run() as run:
        await model.acomplete("x y")
        parts = [delta async for delta in model.astream("p q r")]
    assert "".join(parts) == "p q r"
    assert [r.completion_tokens for r in run.ledger.records] == [2, 3]


def test_a_wrapped_model_keeps_its_own_attributes_and_is_not_metered_twice() -> None:
    echo = Echo()
    model = collab.metered(collab.metered(echo))
    assert model.wrapped is echo and model.calls == 0  # attributes pass through
    assert not hasattr(model, "score")  # only what the model has
    with Run() as run:
        model.complete("one")
    assert len(run.ledger) == 1


def test_savings_are_estimated_without_the_budgets_safety_margin() -> None:
    from collab.budget.metered import (
        MESSAGE_OVERHEAD_TOKENS,
        estimated_prompt_tokens,
        prompt_tokens_of,
    )

    class Margined(collab.ScriptedModel):
        def count_prompt_tokens(self, prompt: object) -> int:
            return 1000  # what a budget reserves: an upper estimate

    model = Margined([], name="remote", kind="remote")
    prompt = [{"role": "user", "content": "one two three four"}]
    assert prompt_tokens_of(prompt)(model) == 1000
    expected = model.count_tokens("one two three four") + 2 * MESSAGE_OVERHEAD_TOKENS
    assert estimated_prompt_tokens(prompt)(model) == expected < 1000
