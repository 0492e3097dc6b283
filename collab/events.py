"""Run events: calls starting, streaming and ending (``CallRecord``); nodes and tool runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from collab.budget.ledger import CallRecord

__all__ = [
    "CallStarted",
    "Event",
    "EventHub",
    "NodeEnded",
    "NodeStarted",
    "StreamDelta",
    "ToolRan",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallStarted:
    """A call got its reservation and is about to run."""

    event: ClassVar[str] = "call_started"
    run_id: str | None
    call_id: str | None = field(default=None, kw_only=True)
    """Names the call in its ``StreamDelta``s and ``CallRecord`` too (unique in the run)."""
    node: str | None
    role: str | None
    model: str
    original_model: str | None
    """The model the caller asked for, when a policy chose ``model`` instead."""
    kind: str
    prompt_tokens: int
    max_tokens: int
    reserved_usd: float
    """The worst-case price held (0 when no USD limit applies: then nothing is priced)."""
    timestamp: float


@dataclass(frozen=True)
class StreamDelta:
    """Text a streaming call just produced (emitted only while someone listens)."""

    event: ClassVar[str] = "delta"
    run_id: str | None
    call_id: str | None = field(default=None, kw_only=True)
    """The streaming call's, as in its ``CallStarted``."""
    node: str | None
    model: str
    text: str
    timestamp: float


@dataclass(frozen=True)
class NodeStarted:
    """A metered graph node began (``collab.graph``)."""

    event: ClassVar[str] = "node_started"
    run_id: str | None
    node: str
    role: str | None
    timestamp: float


@dataclass(frozen=True)
class NodeEnded:
    """A metered graph node finished; ``error`` names the exception if it failed."""

    event: ClassVar[str] = "node_ended"
    run_id: str | None
    node: str
    role: str | None
    duration_s: float
    calls: int
    """Model calls the node made (refused ones included)."""
    cost_usd: float
    """Known cost of those calls."""
    error: str | None
    timestamp: float


@dataclass(frozen=True)
class ToolRan:
    """A tool ran on a model's call (``patterns.plan_execute`` reports its tools' runs)."""

    event: ClassVar[str] = "tool"
    run_id: str | None
    node: str | None
    tool: str
    model: str
    """The model whose call the tool ran."""
    duration_s: float
    error: str | None
    """What the tool raised (type and message), ``None`` when it returned."""
    timestamp: float


Event = CallStarted | CallRecord | StreamDelta | NodeStarted | NodeEnded | ToolRan
"""Tell them apart with ``isinstance`` or their ``event`` name ("call_started", "call",
"delta", "node_started", "node_ended", "tool")."""


class EventHub:
    """Subscribers to a run's events; callbacks run in the calling thread."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[Event], None]] = []

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event; returns the function that unsubscribes it."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def emit(self, event: Event) -> None:
        """Deliver to every subscriber; one that raises is logged and never fails the call."""
        for callback in tuple(self._callbacks):
            try:
                callback(event)
            except Exception:
                logger.exception("run event callback %r failed on %s", callback, event.event)
