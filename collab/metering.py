"""The hooks every model backend calls around one call: metered when a run is active.

    def complete(self, prompt, *, max_tokens=256, ...):
        return metered_complete(
            self,
            prompt_tokens=lambda m: m.count_prompt_tokens(prompt),
            max_tokens=max_tokens,
            call=lambda m: self._complete(...) if m is self else m.complete(prompt, ...),
        )

With no active run they only call ``call(model)``. Inside a run they reserve (the budget's
policy may pick another model: ``call`` then gets that one), time the call, and settle it
into the ledger. Calls made while a metered call runs (a wrapper model calling the model it
wraps, a degraded call's own ``complete``) are not metered twice.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, TypeVar

from collab.events import StreamDelta
from collab.models.base import AsyncCompletionStream, CompletionStream
from collab.run import active_run, current_scope
from collab.types import Completion, Prompt, Usage, normalize_messages

if TYPE_CHECKING:
    from collab.meter import Meter, Reservation
    from collab.models.base import Model

__all__ = [
    "ametered_call",
    "ametered_complete",
    "ametered_stream",
    "is_metered",
    "metered_call",
    "metered_complete",
    "metered_stream",
    "prompt_tokens_of",
    "usage_completion",
]

T = TypeVar("T")

PromptTokens = int | Callable[["Model"], int]
"""The prompt's token count, or a function of the model (counts only when a run is active,
and recounts with the tokenizer of a model the policy swapped in)."""

_inside: ContextVar[bool] = ContextVar("collab_inside_metered_call", default=False)


def is_metered() -> bool:
    """Whether a call made here would be metered (a run is active, outside a metered call)."""
    return not _inside.get() and active_run() is not None


MESSAGE_OVERHEAD_TOKENS = 8
"""Tokens reserved per chat message on top of its content, for models that cannot count
their chat template (role markers, separators, a default system prompt)."""


def prompt_tokens_of(prompt: Prompt) -> Callable[[Model], int]:
    """What a budget reserves for ``prompt`` on a model: its ``count_prompt_tokens`` when it
    has one (an upper estimate), else its content tokens plus a per-message allowance."""

    def count(model: Model) -> int:
        own = getattr(model, "count_prompt_tokens", None)
        if callable(own):
            return int(own(prompt))
        messages = normalize_messages(prompt)
        content = sum(model.count_tokens(m.content) for m in messages)
        return content + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)

    return count


def usage_completion(model: Model, prompt_tokens: int, completion_tokens: int = 0) -> Completion:
    """A text-less ``Completion`` carrying usage: how non-generating calls (``score``,
    ``embed``) are settled."""
    return Completion(
        text="",
        model=model.name,
        kind=model.kind,
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
    )


def metered_call(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], T],
    settle_as: Callable[[Model, T], Completion],
) -> T:
    """``call(model)``, metered by the active run if there is one; ``settle_as`` turns its
    result into the ``Completion`` whose usage is settled.

    A failure is recorded as outcome "error" and raised again. When the provider billed the
    failed call (say, an answer that then failed validation), the backend attaches what it
    billed to the exception as ``billed`` (a ``Completion``) or ``billed_usd``.
    """
    run = None if _inside.get() else active_run()
    if run is None:
        return call(model)
    meter = run.meter
    reservation = _reserve(meter, model, prompt_tokens, max_tokens)
    chosen = reservation.model
    clock = _CallClock(chosen)
    token = _inside.set(True)
    try:
        result = call(chosen)
    except BaseException as error:
        _fail(meter, reservation, error, clock)
        raise
    finally:
        _inside.reset(token)
    latency, cpu = clock.elapsed()
    meter.settle(reservation, settle_as(chosen, result), latency_s=latency, cpu_s=cpu)
    return result


async def ametered_call(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Awaitable[T]],
    settle_as: Callable[[Model, T], Completion],
) -> T:
    """Async twin of ``metered_call``.

    CPU seconds of a local call are the process's while the call was awaited, so other
    tasks running meanwhile are counted in.
    """
    run = None if _inside.get() else active_run()
    if run is None:
        return await call(model)
    meter = run.meter
    reservation = _reserve(meter, model, prompt_tokens, max_tokens)
    chosen = reservation.model
    clock = _CallClock(chosen)
    token = _inside.set(True)
    try:
        result = await call(chosen)
    except BaseException as error:
        _fail(meter, reservation, error, clock)
        raise
    finally:
        _inside.reset(token)
    latency, cpu = clock.elapsed()
    meter.settle(reservation, settle_as(chosen, result), latency_s=latency, cpu_s=cpu)
    return result


def _as_completion(_: Model, completion: Completion) -> Completion:
    return completion


def metered_complete(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Completion],
) -> Completion:
    """``metered_call`` for a call that returns a ``Completion``."""
    return metered_call(
        model,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        call=call,
        settle_as=_as_completion,
    )


async def ametered_complete(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Awaitable[Completion]],
) -> Completion:
    """Async twin of ``metered_complete``."""
    return await ametered_call(
        model,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        call=call,
        settle_as=_as_completion,
    )


def metered_stream(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    open_stream: Callable[[Model], CompletionStream],
) -> CompletionStream:
    """A stream metered by the active run: reserved now, settled when it ends.

    A stream read to its end settles its usage; one abandoned early (closed or collected)
    settles what it produced so far, and one never read settles nothing used; one that
    fails is recorded as an error with what it had produced. Each delta is an event
    (``StreamDelta``) while someone listens to the run.
    """
    run = None if _inside.get() else active_run()
    if run is None:
        return open_stream(model)
    metered = _StreamMeter(run.meter, model, prompt_tokens, max_tokens)
    inner = metered.open(open_stream)

    def deltas() -> Iterator[str]:
        ended: bool | None = False
        try:
            for delta in inner:
                metered.emit(delta)
                yield delta
            ended = True
        except GeneratorExit:
            raise
        except BaseException as error:
            ended = None
            metered.fail(error)
            raise
        finally:
            if ended is not None:
                metered.settle()

    return metered.watch(CompletionStream(deltas(), lambda _text: _finished(inner.completion)))


def ametered_stream(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    open_stream: Callable[[Model], AsyncCompletionStream],
) -> AsyncCompletionStream:
    """Async twin of ``metered_stream``."""
    run = None if _inside.get() else active_run()
    if run is None:
        return open_stream(model)
    metered = _StreamMeter(run.meter, model, prompt_tokens, max_tokens)
    inner = metered.open(open_stream)

    async def deltas() -> AsyncIterator[str]:
        ended: bool | None = False
        try:
            async for delta in inner:
                metered.emit(delta)
                yield delta
            ended = True
        except GeneratorExit:
            raise
        except BaseException as error:
            ended = None
            metered.fail(error)
            raise
        finally:
            if ended is not None:
                metered.settle()

    return metered.watch(AsyncCompletionStream(deltas(), lambda _text: _finished(inner.completion)))


S = TypeVar("S", CompletionStream, AsyncCompletionStream)


class _StreamMeter:
    """One metered stream's reservation, clock and inner stream, sync or async."""

    def __init__(
        self, meter: Meter, model: Model, prompt_tokens: PromptTokens, max_tokens: int
    ) -> None:
        self.meter = meter
        self.reservation = _reserve(meter, model, prompt_tokens, max_tokens)
        self.clock = _CallClock(self.reservation.model)
        self.inner: CompletionStream | AsyncCompletionStream | None = None
        self.emit = _delta_emitter(meter, self.reservation, self.reservation.model)

    def open(self, open_stream: Callable[[Model], S]) -> S:
        inner = _open(
            self.meter, self.reservation, self.clock, lambda: open_stream(self.reservation.model)
        )
        self.inner = inner
        return inner

    def watch(self, stream: S) -> S:
        """Settle a stream when it is collected, read or not (a no-op once settled)."""
        weakref.finalize(stream, self.settle)
        return stream

    def produced(self) -> Completion | None:
        """What the inner stream produced (``None`` when it cannot say)."""
        if self.inner is None:
            return None
        try:
            return self.inner.completion or self.inner.so_far()
        except Exception:  # e.g. a remote stream that failed before its first chunk
            return None

    def settle(self) -> None:
        produced = self.produced()
        if produced is None:
            produced = usage_completion(self.reservation.model, 0)
        _settle_stream(self.meter, self.reservation, self.clock, produced)

    def fail(self, error: BaseException) -> None:
        _fail(self.meter, self.reservation, error, self.clock, billed=self.produced())


class _CallClock:
    """Wall and (for local models) process CPU seconds since the call started."""

    __slots__ = ("cpu_started", "local", "started")

    def __init__(self, model: Model) -> None:
        self.local = model.kind != "remote"
        self.started = time.perf_counter()
        # Process CPU time, not thread time: llama.cpp computes on its own threads.
        self.cpu_started = time.process_time() if self.local else 0.0

    def elapsed(self) -> tuple[float, float]:
        cpu = time.process_time() - self.cpu_started if self.local else 0.0
        return time.perf_counter() - self.started, cpu


def _reserve(
    meter: Meter, model: Model, prompt_tokens: PromptTokens, max_tokens: int
) -> Reservation:
    node, role = current_scope()
    return meter.reserve(
        model, prompt_tokens=prompt_tokens, max_tokens=max_tokens, node=node, role=role
    )


def _open(
    meter: Meter, reservation: Reservation, clock: _CallClock, open_stream: Callable[[], T]
) -> T:
    token = _inside.set(True)
    try:
        return open_stream()
    except BaseException as error:
        _fail(meter, reservation, error, clock)
        raise
    finally:
        _inside.reset(token)


def _delta_emitter(meter: Meter, reservation: Reservation, model: Model) -> Callable[[str], None]:
    def emit(text: str) -> None:
        if meter.events:
            meter.events.emit(
                StreamDelta(
                    run_id=meter.run_id,
                    call_id=reservation.call_id,
                    node=reservation.node,
                    model=model.name,
                    text=text,
                    timestamp=time.time(),
                )
            )

    return emit


def _settle_stream(
    meter: Meter, reservation: Reservation, clock: _CallClock, completion: Completion
) -> None:
    if reservation.settled:
        return
    latency, cpu = clock.elapsed()
    meter.settle(reservation, completion, latency_s=latency, cpu_s=cpu)


def _finished(completion: Completion | None) -> Completion:
    assert completion is not None  # the inner stream finishes before the outer one
    return completion


def _fail(
    meter: Meter,
    reservation: Reservation,
    error: BaseException,
    clock: _CallClock,
    *,
    billed: Completion | None = None,
) -> None:
    """Record a failed call with what it billed: the error's ``billed``, else ``billed``."""
    if reservation.settled:
        return
    latency, cpu = clock.elapsed()
    billed = getattr(error, "billed", None) or billed
    billed_usd = getattr(error, "billed_usd", None)
    meter.fail(
        reservation,
        error,
        billed=billed if isinstance(billed, Completion) else None,
        billed_usd=billed_usd if isinstance(billed_usd, int | float) else None,
        latency_s=latency,
        cpu_s=cpu,
    )
