"""Taps: who else sees the text of a metered call as it is made.

A tap is installed for a context (``tap_calls(tap)``; a metered LangGraph node installs one
that feeds LangGraph's "messages" and "custom" stream modes). Each ``complete`` or
``stream`` of a ``MeteredModel`` made in that context asks the tap for a ``CallSink`` and
tells it every streamed token, then the whole text (or the error). The meter is not
involved: a tap sees calls whether or not a run meters them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar, Token
from typing import Protocol

from collab.models.base import AsyncCompletionStream, CompletionStream
from collab.types import Completion, Prompt

__all__ = ["CallSink", "CallTap", "atapped", "call_sink", "tap_calls", "tapped"]


class CallSink(Protocol):
    """One call's listener."""

    def token(self, text: str) -> None:
        """A streamed token (delta) of the call, in order."""

    def end(self, text: str | None, error: BaseException | None) -> None:
        """The call ended: its whole text, or the error it failed with (``text`` ``None``)."""


CallTap = Callable[[str, Prompt], CallSink | None]
"""``(model name, prompt) -> sink`` (``None``: not listening to this call)."""

_tap: ContextVar[CallTap | None] = ContextVar("collab_call_tap", default=None)


class tap_calls:
    """Tell ``tap`` about the metered calls made in this context (a class: it runs around
    every metered graph node)."""

    __slots__ = ("_tap", "_token")

    def __init__(self, tap: CallTap) -> None:
        self._tap = tap
        self._token: Token[CallTap | None] | None = None

    def __enter__(self) -> None:
        self._token = _tap.set(self._tap)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _tap.reset(self._token)


def call_sink(model: str, prompt: Prompt) -> CallSink | None:
    """The sink of the tap installed here for a call of ``model`` (``None``: no tap)."""
    tap = _tap.get()
    return None if tap is None else tap(model, prompt)


def tapped(stream: CompletionStream, sink: CallSink | None) -> CompletionStream:
    """``stream``, with each delta and its end told to ``sink``."""
    if sink is None:
        return stream

    def deltas() -> Iterator[str]:
        error: BaseException | None = None
        try:
            for delta in stream:
                sink.token(delta)
                yield delta
        except GeneratorExit:
            raise
        except BaseException as failed:
            error = failed
            raise
        finally:
            sink.end(None if error else _text(stream), error)

    return CompletionStream(deltas(), lambda _text: _whole(stream))


def atapped(stream: AsyncCompletionStream, sink: CallSink | None) -> AsyncCompletionStream:
    """Async twin of ``tapped``."""
    if sink is None:
        return stream

    async def deltas() -> AsyncIterator[str]:
        error: BaseException | None = None
        try:
            async for delta in stream:
                sink.token(delta)
                yield delta
        except GeneratorExit:
            raise
        except BaseException as failed:
            error = failed
            raise
        finally:
            sink.end(None if error else _text(stream), error)

    return AsyncCompletionStream(deltas(), lambda _text: _whole(stream))


def _whole(stream: CompletionStream | AsyncCompletionStream) -> Completion:
    return stream.completion or stream.so_far()


def _text(stream: CompletionStream | AsyncCompletionStream) -> str:
    try:
        return _whole(stream).text
    except Exception:  # a stream that cannot say what it produced
        return ""
