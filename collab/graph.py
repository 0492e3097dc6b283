"""Metered, traced LangGraph nodes, and running a graph inside a ``collab.Run``.

    slm = collab.metered(LocalModel("smollm2-135m-instruct"))

    @collab.graph.node(role="drafter")
    def draft(state: State) -> dict:
        return {"draft": slm.complete(state["question"]).text}

A wrapped node records its calls under its node name (and role), emits ``NodeStarted`` /
``NodeEnded`` events, and, when the graph state has a ``collab_calls`` channel (mix in
``LedgerState``), returns the records of its calls into it. That channel is what makes a
run durable: with a checkpointer, the records of every finished node are saved with the
state, so ``collab.graph.invoke`` resuming a thread starts its ``Run`` from them and the
calls already paid for are neither made nor charged again.

The wrapper works on sync and async nodes, in subgraphs and in ``Send`` branches: LangGraph
runs nodes in copies of the caller's context, so the active run reaches them; a run can
also be passed in ``config["configurable"][RUN_CONFIG_KEY]`` (``"__collab_run"``).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, overload

from typing_extensions import TypedDict

from collab.budget.ledger import CallRecord, Ledger
from collab.budget.meter import collect_records
from collab.budget.run import Run, active_run, bind_run, scope
from collab.budget.taps import tap_calls
from collab.events import NodeEnded, NodeStarted
from collab.graph_streams import langgraph_tap

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.types import Durability

__all__ = [
    "LEDGER_KEY",
    "RUN_CONFIG_KEY",
    "GraphRun",
    "LedgerState",
    "ainvoke",
    "invoke",
    "ledger_of",
    "merge_calls",
    "node",
]

LEDGER_KEY = "collab_calls"
"""The state channel metered nodes write their call records to (see ``LedgerState``)."""
RUN_CONFIG_KEY = "__collab_run"
"""``config["configurable"][RUN_CONFIG_KEY]``: a ``Run`` for the graph's nodes to use. Its
name starts with ``__`` so checkpointers leave it out of a checkpoint's metadata (LangGraph's
server copies every other configurable value there, and a ``Run`` is not serializable)."""
_OLD_RUN_CONFIG_KEY = "collab_run"
"""The key's earlier name, still read (LangGraph's server cannot checkpoint a run under it)."""

F = TypeVar("F", bound=Callable[..., Any])


def merge_calls(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The ``collab_calls`` reducer: append the records not already there (by ``call_id``).

    A subgraph returns its whole ledger channel, parent records it was given included; they
    must not be counted twice.
    """
    merged = list(left or [])
    seen = {r.get("call_id") for r in merged if r.get("call_id") is not None}
    for record in right or []:
        call_id = record.get("call_id")
        if call_id is None or call_id not in seen:
            merged.append(record)
            if call_id is not None:
                seen.add(call_id)
    return merged


class LedgerState(TypedDict):
    """Mix into a graph's state so that its calls are checkpointed with it.

    A ``typing_extensions.TypedDict``: on Python < 3.12 pydantic (which LangGraph uses for
    ``get_input_jsonschema``) refuses a ``typing.TypedDict``.

    The records are kept as plain JSON dicts (any checkpointer stores them as they are);
    ``ledger_of(state)`` reads them back as a ``Ledger``.
    """

    collab_calls: Annotated[list[dict[str, Any]], merge_calls]


def ledger_of(state: Any) -> Ledger:
    """The ledger carried in a graph state (or a graph's output) with a ``collab_calls``
    channel."""
    values = state if isinstance(state, Mapping) else vars(state)
    return Ledger(records=_records_in(values))


@overload
def node(fn: F, /) -> F: ...
@overload
def node(*, name: str | None = None, role: str | None = None) -> Callable[[F], F]: ...
def node(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    role: str | None = None,
) -> F | Callable[[F], F]:
    """Meter and trace a LangGraph node (sync or async), as ``@node`` or ``@node(role=...)``.

    ``name`` defaults to the name the graph gave the node; ``role`` labels its calls for
    per-role budgets and summaries. The node keeps its signature, so LangGraph passes it
    ``config`` and the rest as before. The calls of its metered models (``collab.metered``)
    are metered by the active run, else the run in ``config["configurable"][RUN_CONFIG_KEY]``.
    """

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def anode(*args: Any, **kwargs: Any) -> Any:
                frame = _NodeFrame(fn, name, role, args)
                try:
                    return frame.finish(await fn(*args, **kwargs))
                except BaseException as error:
                    frame.fail(error)
                    raise

            return anode  # type: ignore[return-value]

        @functools.wraps(fn)
        def snode(*args: Any, **kwargs: Any) -> Any:
            frame = _NodeFrame(fn, name, role, args)
            try:
                return frame.finish(fn(*args, **kwargs))
            except BaseException as error:
                frame.fail(error)
                raise

        return snode  # type: ignore[return-value]

    return wrap(fn) if fn is not None else wrap


class _NodeFrame:
    """One execution of a metered node: its scope, its records, its events.

    A plain class rather than a generator context manager: this runs around every node.
    """

    __slots__ = (
        "bound",
        "node",
        "records",
        "role",
        "run",
        "scoped",
        "started",
        "state",
        "tapped",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None,
        role: str | None,
        args: tuple[Any, ...],
    ) -> None:
        config = _graph_config()
        self.node = name or _node_name(config) or fn.__name__
        self.role = role
        self.state = args[0] if args else None
        active = active_run()
        self.run = active or _configured_run(config)
        if active is None and self.run is not None:
            _catch_up(self.run, self.state)
        self.bound = bind_run(self.run) if active is None and self.run is not None else None
        if self.bound is not None:
            self.bound.__enter__()
        self.scoped = scope(node=self.node, role=role)
        self.scoped.__enter__()
        tap = langgraph_tap(config, self.node) if config is not None else None
        self.tapped = tap_calls(tap) if tap is not None else None
        if self.tapped is not None:  # its calls reach stream_mode="messages" and "custom"
            self.tapped.__enter__()
        self.records = collect_records()
        self.records.__enter__()
        self.started = time.perf_counter()
        if self.run is not None and self.run.meter.events:
            started = NodeStarted(self.run.run_id, self.node, role, time.time())
            self.run.meter.events.emit(started)

    def finish(self, update: Any) -> Any:
        """Close the frame; the node's update with its call records when the state keeps them."""
        records = self._close(None)
        return _with_records(update, self.state, records)

    def fail(self, error: BaseException) -> None:
        self._close(error)

    def _close(self, error: BaseException | None) -> list[CallRecord]:
        records = self.records.records
        self.records.__exit__(None, None, None)
        if self.tapped is not None:
            self.tapped.__exit__(None, None, None)
        self.scoped.__exit__(None, None, None)
        if self.bound is not None:
            self.bound.__exit__(None, None, None)
        if self.run is not None and self.run.meter.events:
            ended = NodeEnded(
                run_id=self.run.run_id,
                node=self.node,
                role=self.role,
                duration_s=time.perf_counter() - self.started,
                calls=len(records),
                cost_usd=sum(r.cost_usd or 0.0 for r in records),
                error=None if error is None else type(error).__name__,
                timestamp=time.time(),
            )
            self.run.meter.events.emit(ended)
        return records


_catching_up = threading.Lock()


def _catch_up(run: Run, state: Any) -> None:
    """Count the calls a state's ledger channel holds that ``run`` has not seen: a run given
    in the config (as LangGraph's server runs a served graph) resuming a thread that was
    interrupted or crashed starts from what the thread already paid for."""
    saved = state.get(LEDGER_KEY) if isinstance(state, Mapping) else None
    if not saved:
        return
    with _catching_up:
        known = {r.call_id for r in run.ledger.records}
        for row in saved:
            record = row if isinstance(row, CallRecord) else CallRecord.model_validate(row)
            if record.call_id not in known:
                run.meter.absorb(record)
                known.add(record.call_id)


def _with_records(update: Any, state: Any, records: list[CallRecord]) -> Any:
    """The node's update, plus its call records when the state has a ledger channel."""
    if not records or not isinstance(update, dict) or not _has_ledger_channel(state):
        return update
    rows = [r.model_dump(mode="json") for r in records]
    return {**update, LEDGER_KEY: [*update.get(LEDGER_KEY, []), *rows]}


def _has_ledger_channel(state: Any) -> bool:
    if isinstance(state, Mapping):
        return LEDGER_KEY in state
    return hasattr(state, LEDGER_KEY)


def _graph_config() -> RunnableConfig | None:
    try:
        from langgraph.config import get_config

        return get_config()
    except (ImportError, RuntimeError):  # called outside a graph
        return None


def _node_name(config: RunnableConfig | None) -> str | None:
    if config is None:
        return None
    name = (config.get("metadata") or {}).get("langgraph_node")
    return name if isinstance(name, str) else None


def _configured_run(config: RunnableConfig | None) -> Run | None:
    if config is None:
        return None
    configurable = config.get("configurable") or {}
    run = configurable.get(RUN_CONFIG_KEY) or configurable.get(_OLD_RUN_CONFIG_KEY)
    return run if isinstance(run, Run) else None


# -- running a graph in a Run ----------------------------------------------------------------


@dataclass(frozen=True)
class GraphRun:
    """A graph's output with the run that metered it."""

    output: Any
    run: Run

    @property
    def ledger(self) -> Ledger:
        return self.run.ledger

    @property
    def interrupts(self) -> list[Any]:
        """The interrupts the graph stopped on (empty when it finished)."""
        if isinstance(self.output, Mapping):
            return list(self.output.get("__interrupt__", ()))
        return []


def invoke(
    graph: Any,
    input: Any,
    config: RunnableConfig | None = None,
    *,
    run: Run | None = None,
    durability: Durability | None = None,
    **run_options: Any,
) -> GraphRun:
    """``graph.invoke`` metered by ``run`` (default: a new ``Run(**run_options)``).

    With a checkpointer and a thread that has state, the run starts from the call records
    saved in its ``collab_calls`` channel: a resumed run counts what it already spent and
    its ledger ends equal to that of an uninterrupted run. With a checkpointer, durability
    defaults to "sync" (LangGraph's default is "async"): each step's paid calls are saved
    before the next step starts, so a crash can never lose them.
    """
    saved = []
    if _thread_of(graph, config) is not None:
        saved = _records_in(graph.get_state(config).values)
    run = _run_for(saved, run, run_options)
    with _entered(run):
        output = graph.invoke(input, config, **_durability(graph, durability))
    return GraphRun(output, run)


async def ainvoke(
    graph: Any,
    input: Any,
    config: RunnableConfig | None = None,
    *,
    run: Run | None = None,
    durability: Durability | None = None,
    **run_options: Any,
) -> GraphRun:
    """Async twin of ``invoke``."""
    saved = []
    if _thread_of(graph, config) is not None:
        saved = _records_in((await graph.aget_state(config)).values)
    run = _run_for(saved, run, run_options)
    with _entered(run):
        output = await graph.ainvoke(input, config, **_durability(graph, durability))
    return GraphRun(output, run)


def _run_for(saved: list[CallRecord], run: Run | None, options: dict[str, Any]) -> Run:
    if run is None:
        return Run(ledger=Ledger(records=saved) if saved else None, **options)
    if options:
        raise TypeError(f"pass either run= or Run options, not both: {sorted(options)}")
    known = run.ledger.snapshot()
    for record in saved:  # a run of the caller's that has not seen the saved calls yet
        if record not in known:
            run.meter.absorb(record)
    return run


def _durability(graph: Any, durability: Durability | None) -> dict[str, Durability]:
    if durability is not None:
        return {"durability": durability}
    if getattr(graph, "checkpointer", None) in (None, False):
        return {}
    return {"durability": "sync"}


def _thread_of(graph: Any, config: RunnableConfig | None) -> str | None:
    """The thread whose checkpointed state the graph would resume (``None``: no state)."""
    if getattr(graph, "checkpointer", None) in (None, False):
        return None
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    return None if thread is None else str(thread)


def _records_in(values: Any) -> list[CallRecord]:
    """The call records in a graph state's ledger channel."""
    saved = values.get(LEDGER_KEY, []) if isinstance(values, Mapping) else []
    return [r if isinstance(r, CallRecord) else CallRecord.model_validate(r) for r in saved]


@contextmanager
def _entered(run: Run) -> Iterator[Run]:
    # Shared, not entered: other invocations may be using the same run in other threads or
    # tasks, and the first to finish must not end it for them (Run.share counts them).
    with run.share():
        yield run
