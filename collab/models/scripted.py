"""``ScriptedModel``: deterministic replies for tests and docs, in the real ``Completion`` shape."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from collab.errors import InvalidOutputError, UserError
from collab.models.base import AsyncCompletionStream, CompletionStream
from collab.models.call_args import check_max_tokens
from collab.models.tool_calls import ToolRequest, check_calls
from collab.structured import OutputSchema, Schema
from collab.tools import ToolChoice, ToolLike
from collab.types import (
    Completion,
    Message,
    ModelKind,
    Prompt,
    ToolCall,
    Usage,
    normalize_messages,
)

__all__ = ["ScriptedModel"]

Reply = str | Exception | ToolCall | list[ToolCall]
"""A scripted reply: the text to return, an exception to raise for that call, or the tool
call(s) the model makes (checked against the call's ``tools`` like a real model's)."""


class ScriptedModel:
    """Answers from a list of replies (in order) or from a function of the messages.

    Token counts are whitespace words, so tests can reason about usage and cost. When the
    replies run out, the model raises ``IndexError`` naming how many calls were scripted.
    ``kind`` can be set to "local" or "remote" so a scripted model stands in for either.
    ``scores=`` scripts ``score``; ``embeddings=`` (``text -> vector``) gives it an ``embed``
    (without them it has none, like a remote model).
    """

    def __init__(
        self,
        replies: Iterable[Reply] | Callable[[list[Message]], Reply],
        *,
        name: str = "scripted",
        kind: ModelKind = "scripted",
        cost_per_token_usd: float = 0.0,
        scores: Callable[[str, list[str]], list[float]] | None = None,
        embeddings: Callable[[str], list[float]] | None = None,
    ) -> None:
        self.name = name
        self.kind: ModelKind = kind
        self.cost_per_token_usd = cost_per_token_usd
        self._function = replies if callable(replies) else None
        self._replies: list[Reply] = [] if callable(replies) else list(replies)
        self._scores = scores
        self._embeddings = embeddings
        self.embedded: list[str] = []
        """Every text ``embed`` was given, in order."""
        if embeddings is not None:  # without embeddings=, no embed at all (like a remote model)
            self.embed = self._embed
        self._lock = threading.Lock()
        self.calls: list[list[Message]] = []
        """Every call's messages, in order: what the model was asked."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_prompt_tokens(self, prompt: Prompt) -> int:
        """Exactly the prompt tokens a call reports (its messages' words)."""
        return sum(self.count_tokens(m.content) for m in normalize_messages(prompt))

    def _next_reply(self, messages: list[Message], max_tokens: int) -> tuple[str, str]:
        """The next reply cut to ``max_tokens`` words, and its finish reason."""
        text, finish, _ = self._next_turn(messages, max_tokens)
        return text, finish

    def _next_turn(
        self, messages: list[Message], max_tokens: int
    ) -> tuple[str, str, list[ToolCall]]:
        """The next reply cut to ``max_tokens`` words, its finish reason, and its tool calls."""
        check_max_tokens(max_tokens)
        with self._lock:
            self.calls.append(messages)
            if self._function is not None:
                reply = self._function(messages)
            else:
                index = len(self.calls) - 1
                if index >= len(self._replies):
                    raise IndexError(
                        f"ScriptedModel {self.name!r} has {len(self._replies)} scripted replies "
                        f"and was called {index + 1} times"
                    )
                reply = self._replies[index]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, ToolCall | list):
            return "", "tool_calls", [reply] if isinstance(reply, ToolCall) else list(reply)
        words = reply.split(" ")
        if self.count_tokens(reply) <= max_tokens:
            return reply, "stop", []
        kept: list[str] = []
        for word in words:
            if self.count_tokens(" ".join([*kept, word])) > max_tokens:
                break
            kept.append(word)
        return " ".join(kept), "length", []

    def _completion(
        self, messages: list[Message], text: str, started: float, finish_reason: str
    ) -> Completion:
        usage = Usage(
            prompt_tokens=sum(self.count_tokens(m.content) for m in messages),
            completion_tokens=self.count_tokens(text),
        )
        return Completion(
            text=text,
            model=self.name,
            kind=self.kind,
            usage=usage,
            latency_s=time.perf_counter() - started,
            cost_usd=usage.total_tokens * self.cost_per_token_usd,
            finish_reason=finish_reason,
        )

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
    ) -> Completion:
        """The next scripted reply; with ``tools``, a scripted ``ToolCall`` reply is checked
        against them into ``tool_calls`` (an invalid call keeps its ``error``)."""
        request = ToolRequest.of(tools, tool_choice)
        return self._complete(prompt, max_tokens, schema, request)

    def _complete(
        self,
        prompt: Prompt,
        max_tokens: int,
        schema: Schema | None,
        request: ToolRequest | None = None,
    ) -> Completion:
        started = time.perf_counter()
        checked = OutputSchema.of(schema) if schema is not None else None
        messages = normalize_messages(prompt)
        text, finish_reason, calls = self._next_turn(messages, max_tokens)
        completion = self._completion(messages, text, started, finish_reason)
        if calls:
            if request is None:
                raise UserError(
                    f"ScriptedModel {self.name!r} replied with a tool call to a call without tools",
                    hint="pass tools=[...] to the call, or script a text reply",
                )
            completion.tool_calls = check_calls(calls, request)
            completion.usage = Usage(
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=sum(
                    self.count_tokens(f"{c.name} {c.arguments_text or c.arguments}") for c in calls
                ),
            )
            completion.cost_usd = completion.usage.total_tokens * self.cost_per_token_usd
        if checked is not None:
            try:
                completion.parsed = checked.validate_text(text)
            except InvalidOutputError as error:
                error.billed = completion  # type: ignore[attr-defined]  (what a meter settles)
                raise
        return completion

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
    ) -> Completion:
        await asyncio.sleep(0)
        request = ToolRequest.of(tools, tool_choice)
        return self._complete(prompt, max_tokens, schema, request)

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> CompletionStream:
        _, text, finish = self._start_stream(prompt, max_tokens)
        return CompletionStream(_words(text), finish)

    def astream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> AsyncCompletionStream:
        _, text, finish = self._start_stream(prompt, max_tokens)
        return AsyncCompletionStream(_awords(text), finish)

    def _start_stream(
        self, prompt: Prompt, max_tokens: int
    ) -> tuple[list[Message], str, Callable[[str], Completion]]:
        started = time.perf_counter()
        messages = normalize_messages(prompt)
        text, finish_reason = self._next_reply(messages, max_tokens)
        return messages, text, lambda full: self._completion(messages, full, started, finish_reason)

    def score(self, prompt: str, options: list[str]) -> list[float]:
        """Scripted option probabilities (uniform unless ``scores=`` was given), summing to 1."""
        if self._scores is None:
            return [1.0 / len(options)] * len(options)
        raw = self._scores(prompt, options)
        total = sum(raw)
        return [r / total for r in raw]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """``embeddings(text)`` for each text: the model's ``embed`` when made with them."""
        assert self._embeddings is not None
        with self._lock:
            self.embedded.extend(texts)
        return [list(self._embeddings(text)) for text in texts]


def _words(text: str) -> Iterator[str]:
    for i, word in enumerate(text.split(" ")):
        yield word if i == 0 else " " + word


async def _awords(text: str) -> AsyncIterator[str]:
    for word in _words(text):
        await asyncio.sleep(0)
        yield word
