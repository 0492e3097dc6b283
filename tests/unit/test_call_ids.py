"""Call ids: every call's ``CallStarted``, ``StreamDelta``s and ``CallRecord`` share one id,
unique in the run's ledger."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import collab
from collab.budget.ledger import CallRecord, Ledger
from collab.budget.limits import Budget
from collab.budget.run import Run
from collab.errors import BudgetExceeded
from collab.events import CallStarted, Event, StreamDelta
from collab.models.scripted import ScriptedModel

WORKERS = 50


def remote(replies: list[str | Exception] | None = None) -> ScriptedModel:
    return collab.metered(
        ScriptedModel(
            replies if replies is not None else lambda _: "an answer",
            name="gpt-remote",
            kind="remote",
            cost_per_token_usd=0.001,
        )
    )


def listen(run: Run) -> list[Event]:
    events: list[Event] = []
    run.on_event(events.append)  # list.append is atomic: safe from many threads
    return events


def test_fifty_concurrent_calls_get_fifty_ids_and_refusals_their_own() -> None:
    model = remote()
    barrier = threading.Barrier(WORKERS)

    def one_call(_: int) -> None:
        barrier.wait()
        with contextlib.suppress(BudgetExceeded):  # the last ten are refused
            model.complete("hi there", max_tokens=8)

    with Run(budget=Budget(calls=40), run_id="r") as run:
        events = listen(run)
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(one_call, range(WORKERS)))

    records = run.ledger.records
    ids = [r.call_id for r in records]
    assert len(records) == WORKERS and len(set(ids)) == WORKERS
    assert all(i is not None and i.startswith("r-") for i in ids)
    started = {e.call_id for e in events if isinstance(e, CallStarted)}
    made = {r.call_id for r in records if r.made}
    assert len(made) == 40 and started == made  # each record ends the call that started
    assert not started & {r.call_id for r in records if not r.made}  # refusals: fresh ids


async def test_fifty_async_tasks_get_fifty_ids() -> None:
    model = remote()
    async with Run() as run:
        events = listen(run)
        await asyncio.gather(*(model.acomplete("hi there") for _ in range(WORKERS)))
    ids = {r.call_id for r in run.ledger.records}
    assert len(ids) == WORKERS and None not in ids
    assert {e.call_id for e in events if isinstance(e, CallStarted)} == ids


def test_a_call_has_one_id_from_start_through_its_deltas_to_its_record() -> None:
    model = remote(["one two three", "four five six"])
    with Run() as run:
        events = listen(run)
        first, second = iter(model.stream("a")), iter(model.stream("b"))
        # Interleaved, so that pairing by model and order could not tell them apart.
        assert [next(first), next(second), next(second), next(first)] == [
            "one",
            "four",
            " five",
            " two",
        ]
        assert "".join(second) == " six" and "".join(first) == " three"

    by_id: dict[str | None, list[Event]] = {}
    for event in events:
        if isinstance(event, CallStarted | StreamDelta | CallRecord):
            by_id.setdefault(event.call_id, []).append(event)
    assert None not in by_id and len(by_id) == 2
    for call_events in by_id.values():
        assert isinstance(call_events[0], CallStarted)
        assert isinstance(call_events[-1], CallRecord)
        text = "".join(e.text for e in call_events if isinstance(e, StreamDelta))
        assert text in {"one two three", "four five six"}
        assert call_events[-1].completion_tokens == 3


def test_a_failed_call_is_recorded_under_the_id_it_started_with() -> None:
    model = remote([RuntimeError("provider down")])
    with Run() as run:
        events = listen(run)
        with pytest.raises(RuntimeError):
            model.complete("hi")
    started, ended = events
    assert isinstance(started, CallStarted) and isinstance(ended, CallRecord)
    assert ended.outcome == "error" and ended.call_id == started.call_id is not None


def test_a_resumed_run_never_gives_an_earlier_attempts_id_again() -> None:
    model = remote()
    with Run(run_id="r") as first:
        for _ in range(3):
            model.complete("hi")
    saved = Ledger.from_json(first.ledger.to_json())
    saved.records.pop(0)  # an attempt's saved records need not be all of its calls
    earlier = list(saved.records)
    with Run(ledger=saved) as resumed:
        model.complete("hi")
    later = Run(run_id="r")  # a run of the caller's that takes in saved calls
    for record in earlier:
        later.meter.absorb(record)
    with later:
        model.complete("hi")
    assert [r.call_id for r in resumed.ledger.records] == ["r-2", "r-3", "r-4"]
    assert [r.call_id for r in later.ledger.records] == ["r-2", "r-3", "r-4"]


def test_records_without_an_id_still_load() -> None:
    record = CallRecord.model_validate_json('{"model": "m", "kind": "local"}')
    assert record.call_id is None
    with Run(ledger=Ledger(run_id="r", records=[record])) as run:
        remote().complete("hi")
    assert run.ledger.records[-1].call_id == "r-1"
