"""``PrivacyGuard``: a model called with personal data replaced by placeholders, reply restored.

    guarded = PrivacyGuard(llm)                            # a Model like any other
    guarded.complete("Draft a reply to ada@example.com")   # llm sees "... to <EMAIL_1>"
    # the reply says <EMAIL_1>; the guard puts ada@example.com back before returning it

The prompt's messages are redacted together (``collab.pii.Redactor``: emails, phones, card
numbers, IBANs, API keys, IP addresses; names too when ``names=`` is an SLM that lists them),
so one value has one placeholder in the whole conversation. The wrapped model sees the
placeholders only; its reply (and each streamed delta) is restored on the device. The
completion carries ``redactions`` (counts by type, never values), which the ledger records.

Metering: wrap the guard (``collab.metered(PrivacyGuard(llm))``, as patterns do with their
models): its call is the wrapped model's call, with that model's usage. The SLM that finds
names is called inside that call, so a run does not meter it separately; the
``patterns.privacy_guard`` graph finds names in a node of its own, where it is metered.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from collab.models.base import AsyncCompletionStream, CompletionStream
from collab.pii import Redacted, Redactor, restore
from collab.types import Completion, Message, Prompt, normalize_messages

if TYPE_CHECKING:
    from collab.models.base import Model

__all__ = ["GuardedCompletion", "PrivacyGuard", "find_names"]

_PRICING = frozenset({"model", "prices", "cost_per_token_usd", "fallbacks"})
"""The wrapped model's attributes a budget reads to price its calls."""

NAMES_PROMPT = (
    "List every person's name in the text below, one per line, exactly as written. "
    "If there is none, reply NONE.\n\nText:\n{text}\n\nNames:"
)


class GuardedCompletion(Completion):
    """A completion whose prompt was redacted: what was replaced, by type and count."""

    redactions: dict[str, int]


def find_names(model: Model, text: str, *, max_tokens: int = 64) -> list[str]:
    """The person names ``model`` lists in ``text``.

    A small model's list is read leniently but kept strictly: items are split at commas,
    semicolons and "and"; of each, the leading run of capitalised words (at most four) is the
    name ("Maria Garcia confirming we..." gives "Maria Garcia"); only names that occur in
    ``text`` verbatim are kept, so an invented one cannot become a placeholder.
    """
    reply = model.complete(NAMES_PROMPT.format(text=text), max_tokens=max_tokens).text
    names: list[str] = []
    for item in _LIST_SPLIT.split(reply):
        words = _CAPITALISED.match(item.strip().lstrip("-*•0123456789.) ").strip())
        name = words.group(0).strip() if words else ""
        plausible = name and len(name.split()) <= 4 and name.upper() != "NONE"
        if plausible and name not in names and _occurs(name, text):
            names.append(name)
    return names


def _occurs(name: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


_LIST_SPLIT = re.compile(r"[\n,;]|\band\b|&")
_CAPITALISED = re.compile(r"(?:[A-Z][\w'’-]*\.?)(?:\s+[A-Z][\w'’-]*\.?)*")


class PrivacyGuard:
    """``model`` behind a redactor (see the module doc); offers the ``Model`` protocol."""

    def __init__(
        self, model: Model, *, redactor: Redactor | None = None, names: Model | None = None
    ) -> None:
        self.wrapped = model
        self.redactor = redactor or Redactor()
        self.names = names
        self.name: str = model.name
        self.kind = model.kind

    def __repr__(self) -> str:
        return f"PrivacyGuard({self.wrapped!r})"

    def __getattr__(self, name: str) -> Any:
        # How a budget prices the wrapped model; nothing else passes the guard unredacted
        # (a ``score`` or ``embed`` here would send the prompt as it is).
        if name in _PRICING:
            return getattr(self.wrapped, name)
        raise AttributeError(name)

    def redact(self, prompt: Prompt) -> tuple[list[Message], Redacted]:
        """The prompt's messages as the wrapped model gets them, and what was replaced."""
        messages = normalize_messages(prompt)
        redactor = self.redactor
        if self.names is not None:
            found = find_names(self.names, "\n".join(m.content for m in messages))
            redactor = redactor.with_names([*redactor.names, *found])
        done = redactor.redact([m.content for m in messages])
        hidden = [
            m.model_copy(update={"content": text})
            for m, text in zip(messages, done.texts, strict=True)
        ]
        return hidden, done

    def count_tokens(self, text: str) -> int:
        return self.wrapped.count_tokens(text)

    def count_prompt_tokens(self, prompt: Prompt, **options: Any) -> int:
        count = getattr(self.wrapped, "count_prompt_tokens", None)
        if callable(count):
            return int(count(prompt, **options))
        return sum(self.wrapped.count_tokens(m.content) for m in normalize_messages(prompt))

    def complete(self, prompt: Prompt, *, max_tokens: int = 256, **options: Any) -> Completion:
        hidden, done = self.redact(prompt)
        reply = self.wrapped.complete(hidden, max_tokens=max_tokens, **options)
        return _restored(reply, done)

    async def acomplete(
        self, prompt: Prompt, *, max_tokens: int = 256, **options: Any
    ) -> Completion:
        hidden, done = self.redact(prompt)
        reply = await self.wrapped.acomplete(hidden, max_tokens=max_tokens, **options)
        return _restored(reply, done)

    def stream(self, prompt: Prompt, *, max_tokens: int = 256, **options: Any) -> CompletionStream:
        hidden, done = self.redact(prompt)
        inner = self.wrapped.stream(hidden, max_tokens=max_tokens, **options)

        def finish(_text: str) -> Completion:
            return _restored(inner.completion or inner.so_far(), done)

        return CompletionStream(_restoring(iter(inner), done.values), finish)

    def astream(
        self, prompt: Prompt, *, max_tokens: int = 256, **options: Any
    ) -> AsyncCompletionStream:
        hidden, done = self.redact(prompt)
        inner = self.wrapped.astream(hidden, max_tokens=max_tokens, **options)  # type: ignore[attr-defined]

        def finish(_text: str) -> Completion:
            return _restored(inner.completion or inner.so_far(), done)

        return AsyncCompletionStream(_arestoring(inner.__aiter__(), done.values), finish)


def _restored(reply: Completion, done: Redacted) -> GuardedCompletion:
    fields = reply.model_dump(exclude={"text", "parsed"})
    return GuardedCompletion(
        **fields,
        text=restore(reply.text, done.values),
        parsed=reply.parsed,
        redactions=dict(done.counts),
    )


def _split_safe(buffer: str) -> tuple[str, str]:
    """The part of ``buffer`` that can be restored now, and a tail that may be the start of
    a placeholder (from its last "<" with no ">" after it)."""
    cut = buffer.rfind("<")
    if cut == -1 or ">" in buffer[cut:] or len(buffer) - cut > 32:
        return buffer, ""
    return buffer[:cut], buffer[cut:]


def _restoring(deltas: Iterator[str], values: dict[str, str]) -> Iterator[str]:
    pending = ""
    for delta in deltas:
        ready, pending = _split_safe(pending + delta)
        if ready:
            yield restore(ready, values)
    if pending:
        yield restore(pending, values)


async def _arestoring(deltas: AsyncIterator[str], values: dict[str, str]) -> AsyncIterator[str]:
    pending = ""
    async for delta in deltas:
        ready, pending = _split_safe(pending + delta)
        if ready:
            yield restore(ready, values)
    if pending:
        yield restore(pending, values)
