"""``collab.Run`` meters the calls of every metered model made inside it, in threads and tasks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel

import collab
from collab import Budget, BudgetExceeded, Run, ScriptedModel
from collab.budget.metered import MeteredModel
from collab.errors import InvalidOutputError


def remote(
    replies: list[str] | None = None, *, name: str = "big", rate: float = 0.001
) -> MeteredModel:
    return collab.metered(
        ScriptedModel(
            replies if replies is not None else (lambda _: "four words of answer"),
            name=name,
            kind="remote",
            cost_per_token_usd=rate,
        )
    )


def local(name: str = "small") -> MeteredModel:
    return collab.metered(ScriptedModel(lambda _: "a local reply", name=name, kind="local"))


def test_calls_outside_a_run_are_not_recorded_and_inside_are() -> None:
    llm = remote()
    llm.complete("one two three")
    with Run() as run:
        completion = llm.complete("one two three")
    llm.complete("one two three")
    assert len(run.ledger) == 1
    record = run.ledger.records[0]
    assert (record.model, record.kind, record.outcome) == ("big", "remote", "ok")
    assert (record.prompt_tokens, record.completion_tokens) == (3, 4)
    assert record.cost_usd == pytest.approx(completion.cost_usd)
    assert record.run_id == run.run_id


def test_usd_limit_stops_before_the_call_that_would_cross() -> None:
    llm = remote(rate=0.001)  # worst case of each call: (3 + 10) tokens = $0.013
    with Run(budget=Budget(usd=0.03)) as run:
        llm.complete("one two three", max_tokens=10)  # settles 7 tokens = $0.007
        llm.complete("one two three", max_tokens=10)
        spent = run.meter.spent()["usd"]
        assert spent == pytest.approx(0.014)
        with pytest.raises(BudgetExceeded) as info:  # 0.014 + 0.013 fits, the 4th won't
            llm.complete("one two three", max_tokens=10)
            llm.complete("one two three", max_tokens=10)
    assert "remote USD" in str(info.value)
    assert len(llm.calls) == 3  # the refused call never reached the model
    assert run.meter.spent()["usd"] <= 0.03
    assert [r.outcome for r in run.ledger.records] == ["ok", "ok", "ok", "refused"]


def test_degrade_routes_to_the_local_model_and_says_so() -> None:
    llm, slm = remote(rate=0.01), local()
    with Run(budget=Budget(usd=0.0, policy="degrade"), local_model=slm) as run:
        completion = llm.complete("what is two plus two", max_tokens=5)
    assert completion.text == "a local reply"
    assert llm.calls == []
    record = run.ledger.records[0]
    assert (record.model, record.original_model, record.outcome) == ("small", "big", "degraded")
    assert record.kind == "local"


def test_threads_started_inside_a_run_are_metered() -> None:
    llm = remote(rate=0.0)
    with Run(budget=Budget(calls=10)) as run, ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _try(llm.complete, "hi there"), range(50)))
    assert outcomes.count("ok") == 10
    assert outcomes.count("refused") == 40
    assert run.meter.spent()["calls"] == 10
    assert len(llm.calls) == 10


def test_plain_threads_fall_back_to_the_innermost_active_run() -> None:
    llm = remote()
    with Run() as run:
        thread = threading.Thread(target=llm.complete, args=("from a bare thread",))
        thread.start()
        thread.join()
    assert len(run.ledger) == 1


async def test_fifty_async_tasks_never_overspend() -> None:
    llm = remote(rate=0.001)  # worst case (2 + 8) * 0.001 = $0.01: 10 fit in $0.10
    budget = Budget(usd=0.10)
    async with Run(budget=budget) as run:
        results = await asyncio.gather(
            *(llm.acomplete("hi there", max_tokens=8) for _ in range(50)), return_exceptions=True
        )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(made) + len(refused) == 50
    assert 1 <= len(made) <= 10
    assert run.meter.spent()["usd"] <= 0.10 + 1e-12
    assert len(llm.calls) == len(made)


def test_stream_is_settled_when_read_and_when_abandoned() -> None:
    llm = remote(rate=0.001)
    with Run() as run:
        stream = llm.stream("tell me", max_tokens=50)
        assert run.meter.reserved()["remote_tokens"] == 52  # held until the stream ends
        assert "".join(stream) == "four words of answer"
        partial = llm.stream("tell me", max_tokens=50)
        iterator = iter(partial)
        next(iterator)
        iterator.close()  # the reader stops after one word
    full, cut = run.ledger.records
    assert full.completion_tokens == 4
    assert cut.completion_tokens == 1
    assert run.meter.reserved()["remote_tokens"] == 0


async def test_async_stream_is_metered() -> None:
    llm = remote()
    async with Run() as run:
        stream = llm.astream("tell me")
        text = "".join([d async for d in stream])
    assert text == "four words of answer"
    assert run.ledger.records[0].completion_tokens == 4


def test_failed_call_is_recorded_and_charges_what_was_billed() -> None:
    class Answer(BaseModel):
        value: int

    llm = remote(["not json at all"], rate=0.001)
    with Run() as run, pytest.raises(InvalidOutputError):
        llm.complete("give json", schema=Answer, max_tokens=20)
    record = run.ledger.records[0]
    assert record.outcome == "error"
    assert "InvalidOutputError" in (record.error or "")
    assert (record.prompt_tokens, record.completion_tokens) == (2, 4)  # billed all the same
    assert record.cost_usd == pytest.approx(0.006)
    assert run.meter.spent()["usd"] == pytest.approx(0.006)
    assert run.meter.reserved()["remote_tokens"] == 0


def test_usd_reservation_prices_the_dearest_fallback() -> None:
    cheap, dear = remote(rate=0.001, name="cheap"), remote(rate=1.0, name="dear")
    cheap.wrapped.fallbacks = (dear.wrapped,)  # type: ignore[attr-defined]
    with Run(budget=Budget(usd=0.5)) as run, pytest.raises(BudgetExceeded, match="'cheap'"):
        cheap.complete("one two", max_tokens=4)  # fits on cheap ($0.006), not on dear ($6)
    assert cheap.calls == [] and run.meter.spent()["usd"] == 0


def test_a_fallback_answer_is_priced_at_the_fallback() -> None:
    from collab.budget.call_cost import Costing
    from collab.types import Completion, Usage

    primary, backup = remote(rate=0.001, name="primary"), remote(rate=0.01, name="backup")
    primary.fallbacks = (backup,)  # type: ignore[attr-defined]
    answered = Completion(
        text="x",
        model="backup",
        kind="remote",
        usage=Usage(prompt_tokens=3, completion_tokens=2),
        cost_usd=None,
    )
    costing = Costing(price=lambda *_: None)
    assert costing.actual_usd(primary, answered, latency_s=0, cpu_s=0) == pytest.approx(0.05)


def test_local_scoring_counts_local_tokens_only() -> None:
    judge = collab.metered(ScriptedModel([], kind="local", scores=lambda _p, _o: [3.0, 1.0]))
    with Run(budget=Budget(local_tokens=100)) as run:
        probs = judge.score("is this right", ["yes", "no"])
    assert probs == pytest.approx([0.75, 0.25])
    assert run.meter.spent()["local_tokens"] == 5  # 3 prompt words + 2 options
    assert run.meter.spent()["usd"] == 0


def test_scripted_model_honours_max_tokens() -> None:
    completion = remote(["one two three four five"]).complete("x", max_tokens=2)
    assert (completion.text, completion.finish_reason) == ("one two", "length")


def test_saving_prices_the_same_calls_on_the_remote_model() -> None:
    llm, slm = remote(rate=0.001), local()
    with Run(remote_model=llm) as run:
        slm.complete("one two three four")  # 4 in, 3 out: all-remote $0.007, here $0
        llm.complete("one")  # 1 in, 4 out: $0.005 both ways
    saving = run.saving()
    assert saving.actual_usd == pytest.approx(0.005)
    assert saving.all_remote_usd == pytest.approx(0.012)
    assert saving.saved_pct == pytest.approx(100 * 0.007 / 0.012)


def test_runs_nest_and_the_innermost_meters() -> None:
    llm = remote()
    with Run() as outer:
        with Run() as inner:
            llm.complete("a")
        llm.complete("b")
    assert (len(inner.ledger), len(outer.ledger)) == (1, 1)


def test_public_names() -> None:
    assert collab.Run is Run and collab.Budget is Budget
    assert callable(collab.graph.node)


def _try(call, *args) -> str:
    try:
        call(*args)
    except BudgetExceeded:
        return "refused"
    return "ok"


def test_remote_reservation_counts_the_schema_sent_with_the_prompt() -> None:
    from collab import RemoteModel
    from collab.budget.metered import prompt_tokens_of

    class Person(BaseModel):
        name: str
        age: int
        email: str

    llm = RemoteModel("openai/test", api_base="http://127.0.0.1:9/v1", api_key="k")
    bare = prompt_tokens_of("hi")(llm)
    with_schema = prompt_tokens_of("hi", Person)(llm)
    assert with_schema >= bare + llm.count_tokens('"name" "age" "email"')


def test_a_stream_never_read_releases_its_reservation() -> None:
    import gc

    llm = remote()
    with Run() as run:
        stream = llm.stream("tell me", max_tokens=50)
        assert run.meter.reserved()["remote_tokens"] == 52
        del stream
        gc.collect()
        assert run.meter.reserved()["remote_tokens"] == 0
    assert [(r.outcome, r.completion_tokens) for r in run.ledger.records] == [("ok", 0)]


def test_a_stream_failing_midway_records_what_it_produced() -> None:
    from collab.models.base import CompletionStream
    from collab.types import Completion, Usage

    def broken() -> Iterator[str]:
        yield "one"
        yield " two"
        raise ConnectionError("dropped")

    class Flaky(ScriptedModel):
        def stream(self, prompt, *, max_tokens=256, temperature=0.0, stop=None):  # type: ignore[override]
            finish = lambda text: Completion(  # noqa: E731
                text=text,
                model=self.name,
                kind="remote",
                usage=Usage(prompt_tokens=2, completion_tokens=len(text.split())),
                cost_usd=None,
            )
            return CompletionStream(broken(), finish)

    llm = collab.metered(Flaky([], name="flaky", kind="remote", cost_per_token_usd=0.001))
    with Run() as run, pytest.raises(ConnectionError):
        "".join(llm.stream("hi"))
    record = run.ledger.records[0]
    assert (record.outcome, record.completion_tokens) == ("error", 2)
    assert record.cost_usd == pytest.approx(0.004)
