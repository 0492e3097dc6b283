"""One llama context, many callers: the model's gate (its lock) and the two kinds of stream.

A sync stream decodes in the reading thread, between reads, holding the gate from its first
read to its last. Decoding there is as fast as a plain completion; a worker thread handing
deltas over would wake the reader on every token, which on a machine whose cores all run
llama.cpp costs about a third of the speed. A reader that stops reading must not block
everyone else, so a caller that finds the gate held by a stream that has gone idle (or by a
stream its own thread is reading) *drains* it: finishes its generation into a buffer, which
the reader still gets in order. An async stream decodes on a worker thread instead, so the
event loop never waits on llama.cpp.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

__all__ = ["IDLE_S", "InlineStream", "ModelGate", "async_deltas"]

IDLE_S = 0.25
"""How long a live stream may go unread before another caller drains it."""

Produce = Callable[[], Iterator[str]]
"""Starts one generation (the gate is held) and returns its text deltas."""


class ModelGate:
    """The lock around one llama context, aware of the sync stream that may hold it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Weak, so that a stream its reader let go of is collected and frees the gate.
        self._stream: weakref.ref[InlineStream] | None = None

    @property
    def stream(self) -> InlineStream | None:
        """The live sync stream holding the gate, if any."""
        return self._stream() if self._stream is not None else None

    @stream.setter
    def stream(self, stream: InlineStream | None) -> None:
        self._stream = weakref.ref(stream) if stream is not None else None

    def acquire(self) -> None:
        """Take the gate, draining a stream that would otherwise keep it from us."""
        me = threading.get_ident()
        while True:
            stream = self.stream
            if stream is not None and (stream.reader == me or stream.stalled()):
                stream.drain()  # its reader is us (waiting would deadlock) or has gone quiet
            if self._lock.acquire(timeout=IDLE_S):
                return

    def release(self) -> None:
        self._lock.release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


class InlineStream:
    """Text deltas decoded in the reader's thread; see the module docstring."""

    def __init__(self, produce: Produce, gate: ModelGate) -> None:
        self._produce = produce
        self._gate = gate
        self._deltas: Iterator[str] | None = None
        self._buffer: deque[str] = deque()
        self._error: BaseException | None = None
        self._state = "new"  # new -> live (holds the gate) -> done
        self._step = threading.Lock()  # one thread advances the generation at a time
        self._read_at = 0.0
        self.reader: int | None = None
        """The thread reading this stream, once it has started."""

    def __iter__(self) -> InlineStream:
        return self

    def __next__(self) -> str:
        with self._step:
            if self._buffer:
                return self._buffer.popleft()
            if self._state == "done":
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopIteration
            if self._state == "new":
                self._start()
            assert self._deltas is not None
            try:
                delta = next(self._deltas)
            except BaseException:  # StopIteration or a failure: either way the stream is over
                self._end()
                raise
            self._read_at = time.monotonic()
            return delta

    def stalled(self) -> bool:
        """Live, not decoding right now, and unread for longer than ``IDLE_S``."""
        return (
            self._state == "live"
            and not self._step.locked()
            and time.monotonic() - self._read_at > IDLE_S
        )

    def drain(self) -> None:
        """Finish the generation into the buffer and free the gate (from any thread)."""
        with self._step:
            if self._state != "live":
                return
            assert self._deltas is not None
            try:
                self._buffer.extend(self._deltas)
            except BaseException as exc:  # the reader gets it after the buffered deltas
                self._error = exc
            finally:
                self._end()

    def _start(self) -> None:
        self._gate.acquire()
        self._state, self.reader = "live", threading.get_ident()
        self._gate.stream = self
        try:
            self._deltas = self._produce()
        except BaseException:
            self._end()
            raise

    def _end(self) -> None:
        self._state, self._deltas = "done", None
        self._gate.stream = None
        self._gate.release()

    def __del__(self) -> None:
        # Dropped while live (its reader broke off and let go of it): free the gate.
        if getattr(self, "_state", "done") == "live":
            if self._deltas is not None and hasattr(self._deltas, "close"):
                self._deltas.close()
            self._end()


_DONE = object()


async def async_deltas(produce: Produce, gate: ModelGate) -> AsyncIterator[str]:
    """Deltas from ``produce`` run on a worker thread holding the gate; the loop never blocks.

    Leaving early (``aclose``, cancellation) stops the worker at its next token.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()
    cancelled = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the loop closed while the worker ran: nobody is listening
            cancelled.set()

    def work() -> None:
        try:
            with gate.hold():
                for delta in produce():
                    if cancelled.is_set():
                        break
                    put(delta)
        except BaseException as exc:  # handed to the reader, which re-raises it
            put(exc)
        else:
            put(_DONE)

    threading.Thread(target=work, daemon=True, name="collab-astream").start()
    try:
        while (item := await items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
