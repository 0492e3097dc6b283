"""``RecordedModel``: a model whose deterministic calls are recorded on disk and replayed.

An evaluation asks the same models the same questions many ways (the SLM alone, the SLM as a
cascade's drafter, a router's cheap side...). Wrapping each model in a ``RecordedModel`` that
shares one file makes every greedy (``temperature == 0``) call happen once: a later identical
request (same model, messages, ``max_tokens``, ``stop``, schema, and tools offered with their
``tool_choice``) gets the recorded
``Completion`` back, with the usage and latency of the call that produced it, so costs and
times read as if it had been made again. Sampled calls always go to the model.

    slm = RecordedModel(LocalModel.from_catalog("qwen2.5-coder-0.5b-instruct"), "calls.sqlite")
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from collab.models.base import AsyncCompletionStream, CompletionStream, Model
from collab.structured import OutputSchema, Schema
from collab.tools import as_tools
from collab.types import Completion, ModelKind, Prompt, normalize_messages

__all__ = ["RecordedModel"]


class _Store:
    """One sqlite file of recorded calls, shared by every ``RecordedModel`` that opens it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT)")
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RecordedModel:
    """Wraps any ``Model``: greedy calls are recorded in ``path`` and replayed when repeated.

    Everything else (``count_tokens``, ``embed``...) is the wrapped model's. Scores are
    recorded too (they are deterministic). Closing it closes the recording, not the model.
    """

    def __init__(self, model: Model, path: str | Path) -> None:
        self.model = model
        self.name: str = model.name
        self.kind: ModelKind = model.kind
        self._store = _Store(Path(path).expanduser())
        self.replayed = 0
        """How many calls were answered from the recording."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"RecordedModel({self.model!r})"

    def _key(self, kind: str, prompt: Prompt, **params: Any) -> str:
        messages = [m.to_dict() for m in normalize_messages(prompt)]  # OpenAI form: stable
        request = {"call": kind, "model": self.name, "messages": messages, **params}
        blob = json.dumps(request, sort_keys=True, ensure_ascii=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _greedy_key(
        self,
        prompt: Prompt,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        schema: Schema | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str | None:
        """The recording's key of a request, or ``None`` for one that is not replayable (sampled,
        or with options other than ``tools`` and ``tool_choice``, which the key does not cover)."""
        extra = extra or {}
        if temperature != 0.0 or set(extra) - {"tools", "tool_choice"}:
            return None
        params: dict[str, Any] = {"max_tokens": max_tokens, "stop": stop, "schema": _s(schema)}
        if extra.get("tools") is not None:  # a request without tools keeps its earlier key
            params["tools"] = [t.spec() for t in as_tools(extra["tools"])]
            params["tool_choice"] = extra.get("tool_choice", "auto")
        return self._key("complete", prompt, **params)

    def _replay(self, key: str | None) -> Completion | None:
        stored = None if key is None else self._store.get(key)
        if stored is None:
            return None
        self.replayed += 1
        return Completion.model_validate_json(stored)

    def _record(self, key: str | None, done: Completion | None) -> None:
        if key is not None and done is not None:
            self._store.put(key, done.model_dump_json())

    def complete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        **kwargs: Any,
    ) -> Completion:
        key = self._greedy_key(prompt, max_tokens, temperature, stop, schema, kwargs)
        replayed = self._replay(key)
        if replayed is not None:
            return replayed
        done = self.model.complete(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop,
            schema=schema,
            **kwargs,
        )
        self._record(key, done)
        return done

    async def acomplete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        **kwargs: Any,
    ) -> Completion:
        key = self._greedy_key(prompt, max_tokens, temperature, stop, schema, kwargs)
        replayed = self._replay(key)
        if replayed is not None:
            return replayed
        done = await self.model.acomplete(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop,
            schema=schema,
            **kwargs,
        )
        self._record(key, done)
        return done

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> CompletionStream:
        key = self._greedy_key(prompt, max_tokens, temperature, stop)
        replayed = self._replay(key)
        if replayed is not None:
            return CompletionStream(iter([replayed.text]), lambda _text: replayed)
        inner = self.model.stream(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop)

        def deltas() -> Iterator[str]:
            yield from inner
            self._record(key, inner.completion)  # only a stream read to its end is recorded

        return CompletionStream(deltas(), lambda _text: inner.so_far())

    def astream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> AsyncCompletionStream:
        key = self._greedy_key(prompt, max_tokens, temperature, stop)
        replayed = self._replay(key)
        if replayed is not None:

            async def once() -> AsyncIterator[str]:
                yield replayed.text

            return AsyncCompletionStream(once(), lambda _text: replayed)
        astream = self.model.astream  # type: ignore[attr-defined]
        inner: AsyncCompletionStream = astream(
            prompt, max_tokens=max_tokens, temperature=temperature, stop=stop
        )

        async def deltas() -> AsyncIterator[str]:
            async for delta in inner:
                yield delta
            self._record(key, inner.completion)

        return AsyncCompletionStream(deltas(), lambda _text: inner.so_far())

    def score(self, prompt: Prompt, options: list[str]) -> list[float]:
        key = self._key("score", prompt, options=options)
        stored = self._store.get(key)
        if stored is not None:
            self.replayed += 1
            return [float(p) for p in json.loads(stored)]
        scores = [float(p) for p in self.model.score(prompt, options)]  # type: ignore[attr-defined]
        self._store.put(key, json.dumps(scores))
        return scores

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def close(self) -> None:
        """Close the recording (not the wrapped model: whoever opened it closes it)."""
        self._store.close()

    def __enter__(self) -> RecordedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _s(schema: Schema | None) -> Any:
    return None if schema is None else OutputSchema.of(schema).json_schema
