"""Tracing a run: a JSONL file of its events, and a live rich view of its steps and spend.

Both are fed by ``Run.on_event``. The live view pairs a call's end (and its streamed text)
with its start by ``call_id``; events without one (made by hand, or by an older collab) go to
the oldest running call of the same node and model.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, assert_never

from rich import get_console
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from collab.budget.ledger import CallRecord
from collab.budget.limits import LIMIT_NAMES, LimitName
from collab.errors import UserError
from collab.events import CallStarted, Event, NodeEnded, NodeStarted, StreamDelta, ToolRan
from collab.redaction import redact

if TYPE_CHECKING:
    from collab.budget.run import Run

__all__ = ["JsonlTrace", "LiveView", "event_to_dict", "read_trace", "trace_run"]

StrPath = str | os.PathLike[str]
_STREAM_CHARS = 80
"""How much of a running call's streamed text the live view keeps."""
_VIEW_FRAME_LINES = 13
"""Lines of the view that are not step rows: borders, table header, caption, footer."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """``{"event": <name>, **fields}``: a JSON-able dict of any run event."""
    if isinstance(event, CallRecord):
        fields = event.model_dump(mode="json")
    else:
        fields = dataclasses.asdict(event)
    return {"event": event.event, **fields}


def _scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every string in it (nested ones too) passed through ``redact``."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


class JsonlTrace:
    """A run event callback that appends one JSON object per event to ``path``.

    Safe to call from many threads; each line is flushed as it is written, so a killed
    process leaves only whole lines (``read_trace`` skips a last line cut short). Every
    string is redacted (``collab.redaction``: secret-named environment variables, key-shaped
    strings, and ``secrets``) as a second line of defence. Use as a context manager, or
    ``close()`` it after unsubscribing.
    """

    def __init__(self, path: StrPath, *, secrets: Iterable[str | None] = ()) -> None:
        self.path = Path(path)
        self._secrets = tuple(s for s in secrets if s)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)

    def __repr__(self) -> str:
        return f"JsonlTrace({str(self.path)!r}, closed={self.closed})"

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __call__(self, event: Event) -> None:
        line = json.dumps(_scrub(event_to_dict(event), self._secrets), default=str) + "\n"
        with self._lock:
            if self._file.closed:
                raise UserError(
                    f"trace {str(self.path)!r} is closed and cannot record {event.event!r}",
                    hint="unsubscribe the trace (the function run.on_event returned) before "
                    "closing it, or use trace_run(run, jsonl=...)",
                )
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> JsonlTrace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_trace(path: StrPath) -> list[dict[str, Any]]:
    """The events of a JSONL trace, in order; a last line cut short by a kill is skipped."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    events: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: the writer was stopped mid-line
                break
            raise UserError(
                f"line {number} of trace {str(path)!r} is not JSON: {error}",
                hint="a trace holds one JSON object per line, as JsonlTrace writes them",
            ) from error
    return events


_Status = Literal["running", "ok", "error", "degraded", "refused"]
_STATUS_STYLE: dict[str, str] = {
    "running": "yellow",
    "ok": "green",
    "error": "bold red",
    "degraded": "magenta",
    "refused": "red",
}


@dataclass
class _Step:
    """One row of the live view: a graph node, a model call, or a tool's run."""

    kind: Literal["node", "call", "tool"]
    node: str | None
    call_id: str | None = None
    model: str = ""
    where: str = ""
    """"local" or "remote" for calls."""
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    seconds: float | None = None
    calls: int | None = None
    """For nodes: the model calls made in it."""
    status: _Status = "running"
    text: str = field(default="", repr=False)
    """The tail of what a running call streamed."""


class _Steps:
    """The steps of a run as its events describe them; safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: list[_Step] = []

    def snapshot(self) -> list[_Step]:
        with self._lock:
            return [dataclasses.replace(step) for step in self._steps]

    def apply(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, CallStarted):
                self._steps.append(_started_call(event))
            elif isinstance(event, CallRecord):
                self._ended_call(event)
            elif isinstance(event, StreamDelta):
                step = self._running_call(event.call_id, event.node, event.model)
                if step is not None:
                    step.text = (step.text + event.text)[-_STREAM_CHARS:]
            elif isinstance(event, NodeStarted):
                self._steps.append(_Step(kind="node", node=event.node))
            elif isinstance(event, NodeEnded):
                self._ended_node(event)
            elif isinstance(event, ToolRan):
                status: _Status = "error" if event.error else "ok"
                tool = f"tool {event.tool} ({event.model})"
                row = _Step(kind="tool", node=event.node, model=tool, where="local")
                row.cost_usd, row.seconds, row.status = 0.0, event.duration_s, status
                self._steps.append(row)
            else:
                assert_never(event)

    def _running(self, kind: str, node: str | None, match: Callable[[_Step], bool]) -> _Step | None:
        """The oldest running step of this kind and node that ``match``es."""
        for step in self._steps:
            if step.kind == kind and step.status == "running" and step.node == node and match(step):
                return step
        return None

    def _running_call(self, call_id: str | None, node: str | None, model: str) -> _Step | None:
        """The running call that ``call_id`` names; without an id, the oldest one of
        ``node`` and ``model``."""
        if call_id is not None:
            return self._running("call", node, lambda s: s.call_id == call_id)
        return self._running("call", node, lambda s: s.model == model)

    def _ended_call(self, record: CallRecord) -> None:
        step = None
        if record.outcome != "refused":  # a refused call never started
            step = self._running_call(record.call_id, record.node, record.model)
            if step is None and record.call_id is None:
                # The provider may name its model differently from the name the call started.
                step = self._running("call", record.node, lambda s: s.where == record.kind)
        if step is None:
            step = _Step(kind="call", node=record.node, call_id=record.call_id)
            self._steps.append(step)
        step.model = _model_label(record.model, record.original_model)
        step.where, step.status, step.text = record.kind, record.outcome, ""
        if record.made:
            step.tokens_in, step.tokens_out = record.prompt_tokens, record.completion_tokens
            step.cost_usd, step.seconds = record.cost_usd, record.latency_s

    def _ended_node(self, event: NodeEnded) -> None:
        running = [s for s in self._steps if s.kind == "node" and s.node == event.node]
        running = [s for s in running if s.status == "running"]
        step = running[-1] if running else None  # the innermost, if a node re-entered itself
        if step is None:
            step = _Step(kind="node", node=event.node)
            self._steps.append(step)
        step.calls, step.cost_usd, step.seconds = event.calls, event.cost_usd, event.duration_s
        step.status = "error" if event.error else "ok"


def _started_call(event: CallStarted) -> _Step:
    return _Step(
        kind="call",
        node=event.node,
        call_id=event.call_id,
        model=event.model,
        where=event.kind,
        tokens_in=event.prompt_tokens,
    )


def _model_label(model: str, original: str | None) -> str:
    return model if original is None or original == model else f"{model} (for {original})"


@dataclass(frozen=True)
class _Spend:
    """What the footer shows: limits, settled and in-flight amounts, by limit name."""

    limits: Mapping[LimitName, float | None]
    spent: Mapping[str, float]
    reserved: Mapping[str, float]

    @classmethod
    def of(cls, run: Run) -> _Spend:
        return cls(run.budget.limits(), run.meter.spent(), run.meter.reserved())


def _render(title: str, steps: list[_Step], spend: _Spend, *, max_rows: int) -> Panel:
    """The live view of ``steps`` and ``spend``: a pure function, for tests and ``Live``."""
    parts: list[RenderableType] = [_steps_table(steps, max_rows)]
    streaming = _streaming(steps)
    if streaming is not None:
        parts.append(streaming)
    parts.append(_footer(spend))
    return Panel(Group(*parts), title=Text(title), title_align="left")


def _steps_table(steps: list[_Step], max_rows: int) -> Table:
    hidden = max(0, len(steps) - max_rows)
    table = Table(
        expand=True,
        caption=f"{hidden} earlier steps not shown" if hidden else None,
        caption_justify="left",
    )
    numbers = ("tokens in", "tokens out", "cost $", "seconds")
    for column in ("node", "model", "where", *numbers, "status"):
        right = column in numbers
        table.add_column(column, justify="right" if right else "left", no_wrap=not right)
    for step in steps[hidden:]:
        table.add_row(*_row(step))
    return table


def _row(step: _Step) -> list[Text]:
    unpriced = step.status in {"ok", "error", "degraded"} and step.cost_usd is None
    if step.kind == "node":
        node = Text(step.node or "-", style="bold")
        calls = "" if step.calls is None else f"{step.calls} call{'' if step.calls == 1 else 's'}"
        model = Text(calls, style="dim")
    else:
        node = Text(f"  {step.node}" if step.node else "  -", style="dim")
        model = Text(step.model)
    cost = "?" if unpriced else _number(step.cost_usd, "{:.4f}")
    return [
        node,
        model,
        Text(step.where),
        Text(_number(step.tokens_in, "{:,}")),
        Text(_number(step.tokens_out, "{:,}")),
        Text(cost),
        Text(_number(step.seconds, "{:.2f}")),
        Text(step.status, style=_STATUS_STYLE[step.status]),
    ]


def _number(value: float | None, template: str) -> str:
    return "" if value is None else template.format(value)


def _streaming(steps: list[_Step]) -> Table | None:
    """What each running call is streaming now, one line each."""
    live = [s for s in steps if s.kind == "call" and s.status == "running" and s.text]
    if not live:
        return None
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(no_wrap=True, overflow="ellipsis")
    for step in live:
        text = step.text.replace("\n", " ")
        grid.add_row(Text(f"{step.model} @ {step.node or '-'}"), Text(f"…{text}"))
    return grid


def _footer(spend: _Spend) -> Table:
    """One bar per limit that is set, then the totals of the unlimited ones."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    unlimited: list[str] = []
    for name in LIMIT_NAMES:
        limit, spent = spend.limits.get(name), spend.spent.get(name, 0.0)
        if limit is None:
            if name != "wall_s":
                unlimited.append(f"{_LABELS[name]} {_amount(name, spent)}")
            continue
        grid.add_row(Text(_LABELS[name]), _bar(spent, limit), _against(name, spent, limit, spend))
    if unlimited:
        grid.add_row(Text("spent"), Text(" · ".join(unlimited)), Text(""))
    return grid


_LABELS: dict[LimitName, str] = {
    "usd": "usd",
    "remote_tokens": "remote tokens",
    "local_tokens": "local tokens",
    "calls": "calls",
    "wall_s": "wall",
}


def _bar(spent: float, limit: float) -> ProgressBar:
    share = min(1.0, spent / limit) if limit > 0 else 1.0
    style = "red" if share >= 1.0 else "yellow" if share >= 0.8 else "green"
    return ProgressBar(total=1.0, completed=share, width=30, complete_style=style)


def _against(name: LimitName, spent: float, limit: float, spend: _Spend) -> Text:
    text = f"{_amount(name, spent)} / {_amount(name, limit)}"
    held = spend.reserved.get(name, 0.0)
    if held and name != "wall_s":
        text += f"  (+{_amount(name, held)} held by running calls)"
    return Text(text)


def _amount(name: LimitName, value: float) -> str:
    if name == "usd":
        return f"${value:.4f}"
    if name == "wall_s":
        return f"{value:.1f} s"
    return f"{round(value):,}"


class LiveView:
    """A rich ``Live`` display of a run while it goes on: steps, streamed text, spend.

    Subscribes to the run's events on enter and unsubscribes on exit; the last view stays
    on screen. On a console that is not a terminal (CI, a pipe) only that last view is
    printed. ``render()`` gives the current view, for tests. ``max_rows``: the most recent
    steps shown (default: as many as fit a terminal's height; all of them elsewhere).
    """

    def __init__(
        self,
        run: Run,
        *,
        console: Console | None = None,
        title: str | None = None,
        max_rows: int | None = None,
        refresh_per_second: float = 8,
    ) -> None:
        self.run = run
        self.title = title if title is not None else f"run {run.run_id}"
        self.max_rows = max_rows
        self._steps = _Steps()
        self._console = console if console is not None else get_console()
        self._live = Live(
            get_renderable=self.render,
            console=self._console,
            refresh_per_second=refresh_per_second,
            transient=False,
        )
        self._unsubscribe: Callable[[], None] | None = None

    def __call__(self, event: Event) -> None:
        """Take in one run event (what the run's subscription calls)."""
        self._steps.apply(event)

    def render(self) -> RenderableType:
        steps = self._steps.snapshot()
        return _render(self.title, steps, _Spend.of(self.run), max_rows=self._rows(steps))

    def _rows(self, steps: list[_Step]) -> int:
        if self.max_rows is not None:
            return self.max_rows
        console = self._console
        if not console.is_terminal:
            return len(steps)
        streaming = sum(s.kind == "call" and s.status == "running" and bool(s.text) for s in steps)
        return max(3, console.height - _VIEW_FRAME_LINES - streaming)

    def __enter__(self) -> LiveView:
        if self._unsubscribe is not None:
            raise UserError("this LiveView is already showing", hint="enter a LiveView once")
        self._unsubscribe = self.run.on_event(self)
        self._live.start(refresh=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._live.stop()
        if not self._console.is_terminal:  # rich leaves the last view without its newline
            self._console.line()


@contextmanager
def trace_run(
    run: Run,
    *,
    jsonl: StrPath | None = None,
    live: bool = False,
    console: Console | None = None,
    secrets: Iterable[str | None] = (),
) -> Iterator[None]:
    """Trace ``run`` while inside: append its events to ``jsonl``, and/or show a ``LiveView``.

    ``secrets`` are extra strings to redact from the trace (e.g. an API key passed in code).
    """
    with ExitStack() as stack:
        if jsonl is not None:
            trace = stack.enter_context(JsonlTrace(jsonl, secrets=secrets))
            stack.callback(run.on_event(trace))
        if live:
            stack.enter_context(LiveView(run, console=console))
        yield
