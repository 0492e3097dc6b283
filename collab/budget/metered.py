"""``MeteredModel``: the one seam where model calls meet the budget.

    slm = collab.metered(LocalModel("smollm2-135m-instruct"))   # or run.wrap(model)
    with collab.Run(budget=Budget(usd=0.01)):
        slm.complete("hi")     # reserved, called, settled into the run's ledger

It wraps any object satisfying the ``Model`` protocol (a backend of collab's or a user's
own class): each call looks up the run active at call time, reserves its worst case (the
budget's policy may swap the model: degrade and friends act here only), makes the call on
the chosen model, and settles the usage the model reported. Backends only generate: a
failed call that was billed says so on its exception (``billed``: a ``Completion``, or
``billed_usd``). Calls made while a metered call runs (a wrapper model calling another
metered model) are not metered twice. With no active run a call just goes through.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from collab.budget.prices import missing_price_note
from collab.budget.run import Run, active_run, current_scope
from collab.budget.taps import atapped, call_sink, tapped
from collab.events import StreamDelta
from collab.models.base import MESSAGE_OVERHEAD_TOKENS, AsyncCompletionStream, CompletionStream
from collab.models.call_args import check_max_tokens
from collab.types import Completion, Prompt, Usage, normalize_messages

if TYPE_CHECKING:
    from collab.budget.ledger import CallRecord
    from collab.budget.meter import Meter, Reservation
    from collab.models.base import Model
    from collab.structured import Schema

__all__ = [
    "MeteredModel",
    "ametered_call",
    "ametered_complete",
    "ametered_stream",
    "estimated_prompt_tokens",
    "is_metered",
    "metered",
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


def _metering_run(run: Run | None) -> Run | None:
    """The run that meters a call made here: ``run`` (a model bound to one), else the
    active one; ``None`` inside a metered call."""
    if _inside.get():
        return None
    return run if run is not None else active_run()


def prompt_tokens_of(prompt: Prompt, schema: Schema | None = None) -> Callable[[Model], int]:
    """What a budget reserves for ``prompt`` on a model: its ``count_prompt_tokens`` when it
    has one (an upper estimate; given ``schema`` when the call has one and the method takes
    it), else its content tokens plus a per-message allowance."""

    def count(model: Model) -> int:
        own = getattr(model, "count_prompt_tokens", None)
        if callable(own):
            if schema is not None:
                try:
                    return int(own(prompt, schema=schema))
                except TypeError:  # a count that does not take the schema
                    pass
            return int(own(prompt))
        return estimated_prompt_tokens(prompt)(model)

    return count


def estimated_prompt_tokens(prompt: Prompt) -> Callable[[Model], int]:
    """A best estimate of ``prompt``'s tokens on a model, with no safety margin: its content
    tokens by the model's own ``count_tokens`` plus a per-message allowance. Budgets reserve
    ``prompt_tokens_of`` (an upper estimate, 25% over on remote models); savings are claimed
    against this, so that a margin is not counted as saved."""

    def count(model: Model) -> int:
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
    run: Run | None = None,
) -> T:
    """``call(model)``, metered by the active run if there is one; ``settle_as`` turns its
    result into the ``Completion`` whose usage is settled.

    A failure is recorded as outcome "error" and raised again. When the provider billed the
    failed call (say, an answer that then failed validation), the backend attaches what it
    billed to the exception as ``billed`` (a ``Completion``) or ``billed_usd``.
    """
    run = _metering_run(run)
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
    settled = settle_as(chosen, result)
    latency = max(latency, settled.latency_s)  # a replayed call reports its recorded time
    _fill_cost(settled, meter.settle(reservation, settled, latency_s=latency, cpu_s=cpu))
    return result


async def ametered_call(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Awaitable[T]],
    settle_as: Callable[[Model, T], Completion],
    run: Run | None = None,
) -> T:
    """Async twin of ``metered_call``.

    CPU seconds of a local call are the process's while the call was awaited, so other
    tasks running meanwhile are counted in.
    """
    run = _metering_run(run)
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
    settled = settle_as(chosen, result)
    latency = max(latency, settled.latency_s)  # a replayed call reports its recorded time
    _fill_cost(settled, meter.settle(reservation, settled, latency_s=latency, cpu_s=cpu))
    return result


def _as_completion(_: Model, completion: Completion) -> Completion:
    return completion


def metered_complete(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Completion],
    run: Run | None = None,
) -> Completion:
    """``metered_call`` for a call that returns a ``Completion``."""
    return metered_call(
        model,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        call=call,
        settle_as=_as_completion,
        run=run,
    )


async def ametered_complete(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    call: Callable[[Model], Awaitable[Completion]],
    run: Run | None = None,
) -> Completion:
    """Async twin of ``metered_complete``."""
    return await ametered_call(
        model,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        call=call,
        settle_as=_as_completion,
        run=run,
    )


def metered_stream(
    model: Model,
    *,
    prompt_tokens: PromptTokens,
    max_tokens: int,
    open_stream: Callable[[Model], CompletionStream],
    run: Run | None = None,
) -> CompletionStream:
    """A stream metered by the active run: reserved now, settled when it ends.

    A stream read to its end settles its usage; one abandoned early (closed or collected)
    settles what it produced so far, and one never read settles nothing used; one that
    fails is recorded as an error with what it had produced. Each delta is an event
    (``StreamDelta``) while someone listens to the run.
    """
    run = _metering_run(run)
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
    run: Run | None = None,
) -> AsyncCompletionStream:
    """Async twin of ``metered_stream``."""
    run = _metering_run(run)
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
    latency = max(latency, completion.latency_s)
    _fill_cost(completion, meter.settle(reservation, completion, latency_s=latency, cpu_s=cpu))


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


_PROTOCOL_OPTIONS = frozenset({"temperature", "stop", "schema"})
"""The call options every ``Model`` takes; others (``prediction``, ...) reach only the model
they were meant for, not one a policy swapped in."""


def _options_for(model: Model, wrapped: Model, options: dict[str, Any]) -> dict[str, Any]:
    if model is wrapped:
        return options
    return {k: v for k, v in options.items() if k in _PROTOCOL_OPTIONS}


class MeteredModel:
    """``model`` metered by the run active at each call (or by ``run``, when bound to one).

    Offers the ``Model`` protocol, plus the metered ``astream``, ``complete_text``,
    ``score``, ``score_detailed`` and ``embed`` of a model that has them; every other
    attribute is the wrapped model's. ``score`` and ``embed`` reserve and settle their input
    tokens (prompt and options; texts) as a call with no output.
    """

    def __init__(self, model: Model, *, run: Run | None = None) -> None:
        if isinstance(model, MeteredModel):
            run = run if run is not None else model.run
            model = model.wrapped
        self.wrapped: Model = model
        self.run = run
        self.name: str = model.name
        self.kind = model.kind

    def __repr__(self) -> str:
        return f"metered({self.wrapped!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in {"wrapped", "run"}:
            raise AttributeError(name)
        attribute = getattr(self.wrapped, name)  # AttributeError when the model lacks it
        extra = _EXTRAS.get(name)
        return attribute if extra is None else functools.partial(extra, self)

    def count_tokens(self, text: str) -> int:
        return self.wrapped.count_tokens(text)

    def complete(self, prompt: Prompt, *, max_tokens: int = 256, **options: Any) -> Completion:
        check_max_tokens(max_tokens)  # before any reservation: never a negative one
        wrapped = self.wrapped
        sink = call_sink(self.name, prompt)
        try:
            done = metered_complete(
                wrapped,
                prompt_tokens=prompt_tokens_of(prompt, options.get("schema")),
                max_tokens=max_tokens,
                call=lambda m: m.complete(
                    prompt, max_tokens=max_tokens, **_options_for(m, wrapped, options)
                ),
                run=self.run,
            )
        except BaseException as error:
            if sink is not None:
                sink.end(None, error)
            raise
        if sink is not None:
            sink.end(done.text, None)
        return done

    async def acomplete(
        self, prompt: Prompt, *, max_tokens: int = 256, **options: Any
    ) -> Completion:
        check_max_tokens(max_tokens)  # before any reservation: never a negative one
        wrapped = self.wrapped
        sink = call_sink(self.name, prompt)
        try:
            done = await ametered_complete(
                wrapped,
                prompt_tokens=prompt_tokens_of(prompt, options.get("schema")),
                max_tokens=max_tokens,
                call=lambda m: m.acomplete(
                    prompt, max_tokens=max_tokens, **_options_for(m, wrapped, options)
                ),
                run=self.run,
            )
        except BaseException as error:
            if sink is not None:
                sink.end(None, error)
            raise
        if sink is not None:
            sink.end(done.text, None)
        return done

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, **options: Any) -> CompletionStream:
        check_max_tokens(max_tokens)  # before any reservation: never a negative one
        wrapped = self.wrapped
        stream = metered_stream(
            wrapped,
            prompt_tokens=prompt_tokens_of(prompt),
            max_tokens=max_tokens,
            open_stream=lambda m: m.stream(
                prompt, max_tokens=max_tokens, **_options_for(m, wrapped, options)
            ),
            run=self.run,
        )
        return tapped(stream, call_sink(self.name, prompt))


def _astream(
    self: MeteredModel, prompt: Prompt, *, max_tokens: int = 256, **options: Any
) -> AsyncCompletionStream:
    check_max_tokens(max_tokens)
    wrapped = self.wrapped
    stream = ametered_stream(
        wrapped,
        prompt_tokens=prompt_tokens_of(prompt),
        max_tokens=max_tokens,
        open_stream=lambda m: m.astream(  # type: ignore[attr-defined]
            prompt, max_tokens=max_tokens, **_options_for(m, wrapped, options)
        ),
        run=self.run,
    )
    return atapped(stream, call_sink(self.name, prompt))


def _complete_text(
    self: MeteredModel, prompt: str, *, max_tokens: int = 256, **options: Any
) -> Completion:
    check_max_tokens(max_tokens)
    wrapped = self.wrapped
    return metered_complete(
        wrapped,
        prompt_tokens=lambda m: m.count_tokens(prompt) + 1,  # the text and a BOS
        max_tokens=max_tokens,
        call=lambda m: (
            m.complete_text(prompt, max_tokens=max_tokens, **options)  # type: ignore[attr-defined]
            if m is wrapped
            else m.complete(prompt, max_tokens=max_tokens, **_options_for(m, wrapped, options))
        ),
        run=self.run,
    )


def _scoring(method: str) -> Callable[..., Any]:
    def score(self: MeteredModel, prompt: Prompt, options: list[str]) -> Any:
        def n_tokens(m: Model) -> int:
            return prompt_tokens_of(prompt)(m) + sum(m.count_tokens(o) for o in options)

        return metered_call(
            self.wrapped,
            prompt_tokens=n_tokens,
            max_tokens=0,
            call=lambda m: getattr(m, method)(prompt, options),
            settle_as=lambda m, _: usage_completion(m, n_tokens(m)),
            run=self.run,
        )

    return score


def _embed(self: MeteredModel, texts: list[str]) -> list[list[float]]:
    def n_tokens(m: Model) -> int:
        return sum(m.count_tokens(t) + 1 for t in texts) if isinstance(texts, list) else 0

    return metered_call(  # type: ignore[no-any-return]
        self.wrapped,
        prompt_tokens=n_tokens,
        max_tokens=0,
        call=lambda m: m.embed(texts),  # type: ignore[attr-defined]
        settle_as=lambda m, _: usage_completion(m, n_tokens(m)),
        run=self.run,
    )


_EXTRAS: dict[str, Callable[..., Any]] = {
    "astream": _astream,
    "complete_text": _complete_text,
    "score": _scoring("score"),
    "score_detailed": _scoring("score_detailed"),
    "embed": _embed,
}


def _fill_cost(completion: Completion, record: CallRecord) -> None:
    """Give a completion its model did not price the cost the meter found (or say why not)."""
    if completion.cost_usd is not None or completion.kind != "remote":
        return
    if record.cost_usd is not None:
        completion.cost_usd = record.cost_usd
    else:
        completion.cost_note = missing_price_note(completion.model)


def metered(model: Model, *, run: Run | None = None) -> MeteredModel:
    """``model`` metered by the run active at each call (``run``: always by that one)."""
    return MeteredModel(model, run=run)
