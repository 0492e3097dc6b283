"""The ``Model`` protocol that every backend implements, and the stream it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol, runtime_checkable

from collab.structured import Schema
from collab.tools import ToolChoice, ToolLike
from collab.types import Completion, ModelKind, Prompt

__all__ = ["MESSAGE_OVERHEAD_TOKENS", "AsyncCompletionStream", "CompletionStream", "Model"]

MESSAGE_OVERHEAD_TOKENS = 8
"""Tokens per chat message on top of its content, for models that cannot count their chat
template (role markers, separators, a default system prompt)."""


class CompletionStream:
    """Text deltas as they arrive; ``completion`` holds the whole result once exhausted."""

    def __init__(self, deltas: Iterator[str], finish: Callable[[str], Completion]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._parts: list[str] = []
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for delta in self._deltas:
                self._parts.append(delta)
                yield delta
        finally:
            close = getattr(self._deltas, "close", None)
            if close is not None:  # a reader that stops early ends the generation too
                close()
        self.completion = self._finish("".join(self._parts))

    def so_far(self) -> Completion:
        """The result of the text read so far (what an abandoned stream produced)."""
        return self.completion or self._finish("".join(self._parts))


class AsyncCompletionStream:
    """Async twin of ``CompletionStream``."""

    def __init__(self, deltas: AsyncIterator[str], finish: Callable[[str], Completion]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._parts: list[str] = []
        self.completion: Completion | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            async for delta in self._deltas:
                self._parts.append(delta)
                yield delta
        finally:
            aclose = getattr(self._deltas, "aclose", None)
            if aclose is not None:  # a reader that stops early ends the generation too
                await aclose()
        self.completion = self._finish("".join(self._parts))

    def so_far(self) -> Completion:
        """The result of the text read so far (what an abandoned stream produced)."""
        return self.completion or self._finish("".join(self._parts))


@runtime_checkable
class Model(Protocol):
    """What every model offers, local or remote: the same calls and the same ``Completion``.

    ``tools`` (see ``collab.tools``) offers tools; the calls the model makes come back in
    ``Completion.tool_calls``. A model written before tools existed still works wherever no
    tools are passed: collab passes ``tools=`` on only when a caller gave some.
    """

    name: str
    kind: ModelKind

    def complete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion: ...

    async def acomplete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion: ...

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> CompletionStream: ...

    def count_tokens(self, text: str) -> int: ...
