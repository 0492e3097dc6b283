"""Tracing: JSONL traces of run events (whole lines, redacted) and the live view of a run."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import collab
from collab.budget.ledger import CallRecord
from collab.budget.limits import Budget
from collab.budget.run import Run, scope
from collab.errors import UserError
from collab.events import CallStarted, Event, NodeEnded, NodeStarted, StreamDelta
from collab.models.scripted import ScriptedModel
from collab.redaction import REDACTED
from collab.tracing import JsonlTrace, LiveView, read_trace, trace_run

FAKE_KEY = "sk-test-FAKE1234567890"


def remote(name: str = "gpt-remote", replies: int = 1) -> ScriptedModel:
    return collab.metered(
        ScriptedModel(["a b c"] * replies, kind="remote", cost_per_token_usd=0.001, name=name)
    )


def one_call(run: Run, model: ScriptedModel, *, node: str | None = None) -> CallRecord:
    """A call as the meter sees it: reserve (CallStarted), then settle (CallRecord)."""
    completion = model.complete("x y z")  # outside the run: only the meter reports it
    reservation = run.meter.reserve(model, prompt_tokens=3, max_tokens=5, node=node)
    return run.meter.settle(reservation, completion, latency_s=0.1, cpu_s=0.0)


def one_call_started(run: Run) -> CallStarted:
    """Reserve a call and return the CallStarted event it emits."""
    seen: list[Event] = []
    unsubscribe = run.on_event(seen.append)
    run.meter.reserve(remote("gpt-remote"), prompt_tokens=3, max_tokens=5, node="draft")
    unsubscribe()
    [started] = seen
    assert isinstance(started, CallStarted)
    return started


def node_started(node: str) -> NodeStarted:
    return NodeStarted(run_id="r1", node=node, role=None, timestamp=1.0)


def node_ended(node: str, *, calls: int = 1, cost_usd: float = 0.006) -> NodeEnded:
    return NodeEnded(
        run_id="r1",
        node=node,
        role=None,
        duration_s=0.5,
        calls=calls,
        cost_usd=cost_usd,
        error=None,
        timestamp=2.0,
    )


def delta(text: str, *, node: str | None = "draft", model: str = "gpt-remote") -> StreamDelta:
    return StreamDelta(run_id="r1", node=node, model=model, text=text, timestamp=1.5)


def line_with(out: str, text: str, *, rows_only: bool = False) -> str:
    """The one line of a rendered view that holds ``text`` (of the steps table only)."""
    lines = out.splitlines()
    if rows_only:
        lines = [line for line in lines if line.startswith("│ │")]
    [line] = [line for line in lines if text in line]
    return line


def rendered(view: LiveView) -> str:
    console = Console(file=io.StringIO(), width=120)
    console.print(view.render())
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


# JsonlTrace


def test_every_event_becomes_one_json_line_with_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    run = Run(budget=Budget(usd=1.0))
    with JsonlTrace(path) as trace:
        unsubscribe = run.on_event(trace)
        run.meter.events.emit(node_started("draft"))
        one_call(run, remote(), node="draft")
        run.meter.events.emit(delta("hello"))
        run.meter.events.emit(node_ended("draft"))
        unsubscribe()

    lines = path.read_text().splitlines()
    assert len(lines) == 5
    events = read_trace(path)
    assert [e["event"] for e in events] == [
        "node_started",
        "call_started",
        "call",
        "delta",
        "node_ended",
    ]
    started, call = events[1], events[2]
    assert started["model"] == "gpt-remote" and started["node"] == "draft"
    assert started["call_id"] == call["call_id"] == f"{run.run_id}-1"
    assert (started["prompt_tokens"], started["max_tokens"]) == (3, 5)
    assert started["reserved_usd"] == pytest.approx(0.008)
    assert call["run_id"] == run.run_id and call["kind"] == "remote" and call["outcome"] == "ok"
    assert (call["prompt_tokens"], call["completion_tokens"]) == (3, 3)
    assert call["cost_usd"] == pytest.approx(0.006) and call["latency_s"] == 0.1
    assert events[3]["text"] == "hello"
    assert events[4]["calls"] == 1 and events[4]["error"] is None


def test_a_trace_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "trace.jsonl"
    for text in ("first", "second"):
        with JsonlTrace(path) as trace:
            trace(delta(text))
    assert [e["text"] for e in read_trace(path)] == ["first", "second"]


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads as often as possible, so that unguarded writes would interleave."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("eager_thread_switches")
def test_concurrent_events_give_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    run = Run()
    barrier = threading.Barrier(20)
    long_text = "x" * 20_000  # larger than a write buffer: interleaving would split it

    def emit(i: int) -> None:
        barrier.wait()
        run.meter.events.emit(delta(f"{i}:{long_text}", model=f"m{i}"))

    with JsonlTrace(path) as trace:
        unsubscribe = run.on_event(trace)
        threads = [threading.Thread(target=emit, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        unsubscribe()

    lines = path.read_text().splitlines()
    assert len(lines) == 20
    parsed = [json.loads(line) for line in lines]
    assert sorted(e["model"] for e in parsed) == sorted(f"m{i}" for i in range(20))
    assert all(e["text"] == f"{e['model'][1:]}:{long_text}" for e in parsed)


def test_api_keys_from_the_environment_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    path = tmp_path / "trace.jsonl"
    record = CallRecord(
        model="openai/gpt-4o-mini",
        kind="remote",
        outcome="error",
        error=f"RemoteAPIError: 401 Incorrect API key provided: {FAKE_KEY}",
    )
    with JsonlTrace(path) as trace:
        trace(record)
    text = path.read_text()
    assert FAKE_KEY not in text and "FAKE1234567890" not in text
    [event] = read_trace(path)
    assert event["error"] == f"RemoteAPIError: 401 Incorrect API key provided: {REDACTED}"
    assert event["model"] == "openai/gpt-4o-mini"  # ordinary strings are left alone


def test_secrets_passed_in_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    with JsonlTrace(path, secrets=["hunter2-but-longer", None]) as trace:
        trace(delta("the password is hunter2-but-longer, keep it"))
    [event] = read_trace(path)
    assert event["text"] == f"the password is {REDACTED}, keep it"


def test_a_closed_trace_refuses_events(tmp_path: Path) -> None:
    trace = JsonlTrace(tmp_path / "trace.jsonl")
    trace.close()
    assert trace.closed
    with pytest.raises(UserError, match="is closed"):
        trace(delta("late"))


def test_read_trace_skips_a_last_line_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"event": "delta", "text": "a"}\n{"event": "delta", "te')
    assert read_trace(path) == [{"event": "delta", "text": "a"}]


def test_read_trace_names_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text('{"event": "delta"}\nnot json\n{"event": "delta"}\n')
    with pytest.raises(UserError, match="line 2 of trace"):
        read_trace(path)


# LiveView


def test_view_shows_nodes_models_costs_and_a_usd_bar() -> None:
    run = Run(budget=Budget(usd=0.05))
    view = LiveView(run, title="cascade")
    view(node_started("draft"))
    record = one_call(run, remote("gpt-remote"), node="draft")
    view(record)
    view(node_ended("draft"))
    view(node_started("verify"))

    out = rendered(view)
    assert "cascade" in out
    assert "draft" in out and "verify" in out
    assert "gpt-remote" in out and "remote" in out
    assert "0.0060" in out  # the call's cost
    assert "━" in line_with(out, "$0.0060 / $0.0500")  # a bar, then spent against the limit
    node_row = line_with(out, "1 call ")  # the node that ended, with its calls
    assert "draft" in node_row and "ok" in node_row and "0.50" in node_row
    assert "running" in line_with(out, "verify") and "ok" in line_with(out, "gpt-remote")


def test_view_without_limits_shows_totals_and_no_bars() -> None:
    run = Run()
    view = LiveView(run, console=Console(file=io.StringIO(), width=120))
    one_call(run, remote("gpt-remote"))
    out = rendered(view)
    assert "usd $0.0060" in out and "remote tokens 6" in out and "calls 1" in out
    assert " / " not in out and "━" not in line_with(out, "spent")


def test_view_shows_every_limit_that_is_set() -> None:
    run = Run(budget=Budget(usd=1.0, remote_tokens=100, calls=4))
    one_call(run, remote("gpt-remote"))
    out = rendered(LiveView(run))
    assert "$0.0060 / $1.0000" in out
    assert "6 / 100" in out and "1 / 4" in out
    assert "local tokens 0" in out  # the unlimited one as a total


def test_view_pairs_a_call_end_with_its_start_and_streams_while_running() -> None:
    run = Run()
    with LiveView(run, console=Console(file=io.StringIO(), width=120)) as view:
        model = remote("gpt-remote")
        completion = model.complete("x y z")
        reservation = run.meter.reserve(model, prompt_tokens=3, max_tokens=5, node="draft")
        run.meter.events.emit(delta("The answer "))
        run.meter.events.emit(delta("is forty-two"))
        running = rendered(view)
        assert "running" in line_with(running, "draft", rows_only=True)
        assert "The answer is forty-two" in line_with(running, "gpt-remote @ draft")

        run.meter.settle(reservation, completion, latency_s=0.25, cpu_s=0.0)
        done = rendered(view)
    assert "forty-two" not in done  # only running calls show what they stream
    row = line_with(done, "gpt-remote", rows_only=True)  # the end was paired with the start
    assert "ok" in row and "0.25" in row and "running" not in done


def test_view_tells_apart_two_running_calls_to_one_model_in_one_node() -> None:
    model = collab.metered(
        ScriptedModel(["alpha beta gamma", "one two three four five"], kind="remote")
    )
    with Run() as run, LiveView(run, console=Console(file=io.StringIO(), width=120)) as view:
        with scope(node="draft"):
            first, second = iter(model.stream("a b")), iter(model.stream("c d"))
            assert next(first) == "alpha"
            assert "".join(second) == "one two three four five"  # the later call ends first
        out = rendered(view)
        [older, newer] = [line for line in out.splitlines() if line.startswith("│ │   draft")]
        assert "running" in older and "running" not in newer
        assert " 5 " in newer and "ok" in newer  # its own tokens, not the older call's
        assert "…alpha" in line_with(out, "scripted @ draft") and "one" not in older

        assert "".join(first) == " beta gamma"
    rows = [line for line in rendered(view).splitlines() if line.startswith("│ │   draft")]
    assert [" 3 " in rows[0], " 5 " in rows[1]] == [True, True]
    assert all("ok" in row for row in rows)


def test_view_keeps_only_the_tail_of_a_long_stream() -> None:
    run = Run()
    view = LiveView(run)
    view(one_call_started(run))
    view(delta("HEAD" + "y" * 200 + "TAIL"))
    out = rendered(view)
    assert "TAIL" in out and "HEAD" not in out


def test_a_refused_call_gets_its_own_row() -> None:
    run = Run()
    view = LiveView(run)
    view(one_call_started(run))
    view(CallRecord(node="draft", model="gpt-remote", kind="remote", outcome="refused"))
    out = rendered(view)
    [started, refused] = [line for line in out.splitlines() if "gpt-remote" in line]
    assert "0.0000" not in refused  # a refused call cost nothing and took no time
    assert "running" in started and "refused" in refused  # the start was not taken as refused


def test_a_degraded_call_names_the_model_it_stood_in_for() -> None:
    view = LiveView(Run())
    view(CallRecord(model="smollm2", original_model="gpt-remote", kind="local", outcome="degraded"))
    row = line_with(rendered(view), "smollm2", rows_only=True)
    assert "smollm2 (for gpt-remote)" in row and "degraded" in row and "local" in row


def test_view_unsubscribes_on_exit_and_leaves_the_last_view() -> None:
    run = Run(budget=Budget(usd=0.05))
    file = io.StringIO()
    with LiveView(run, console=Console(file=file, width=120)) as view:
        run.meter.events.emit(node_started("draft"))
        assert run.meter.events  # subscribed while inside
    assert not run.meter.events
    before = rendered(view)
    run.meter.events.emit(node_started("late-node"))
    after = rendered(view)
    assert "late-node" not in after and after == before
    assert "draft" in file.getvalue()  # not a terminal: the last view is printed once


def test_a_view_cannot_be_entered_twice() -> None:
    run = Run()
    with LiveView(run, console=Console(file=io.StringIO())) as view, pytest.raises(UserError):
        view.__enter__()


# trace_run


def test_trace_run_writes_the_trace_and_shows_the_view(tmp_path: Path) -> None:
    run = Run(budget=Budget(usd=0.05))
    path = tmp_path / "trace.jsonl"
    file = io.StringIO()
    with trace_run(run, jsonl=path, live=True, console=Console(file=file, width=120)):
        run.meter.events.emit(node_started("draft"))
        one_call(run, remote("gpt-remote"), node="draft")
    assert not run.meter.events
    assert [e["event"] for e in read_trace(path)] == ["node_started", "call_started", "call"]
    shown = file.getvalue()
    assert "draft" in shown and "gpt-remote" in shown and "$0.0060 / $0.0500" in shown


def test_trace_run_without_live_prints_nothing(tmp_path: Path) -> None:
    run = Run()
    file = io.StringIO()
    with trace_run(run, jsonl=tmp_path / "t.jsonl", console=Console(file=file)):
        one_call(run, remote())
    assert file.getvalue() == ""
    assert [e["event"] for e in read_trace(tmp_path / "t.jsonl")] == ["call_started", "call"]


def test_the_last_view_ends_its_line_on_a_plain_console() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80)
    run = Run()
    with run, LiveView(run, console=console):
        pass
    console.print("NEXT")
    assert "\nNEXT\n" in buffer.getvalue()
    assert "╯NEXT" not in buffer.getvalue()
