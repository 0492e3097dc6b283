"""Chat templates for local models: messages -> the prompt text that llama.cpp completes.

``LocalModel`` renders the prompt itself (rather than calling ``create_chat_completion``) so
that complete, stream and score all see the same tokens and it knows the exact prompt length.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collab.errors import UserError
from collab.types import Message

__all__ = ["ChatPrompt", "ChatTemplate"]

Formatter = Callable[..., Any]
"""A llama-cpp-python ``ChatFormatter``: ``(messages=...) -> ChatFormatterResponse``."""


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    """A rendered chat prompt, ready to tokenise."""

    text: str
    stop: tuple[str, ...]
    """Stop strings the chat format asks for (e.g. the end-of-turn marker)."""
    add_bos: bool
    """Whether the tokenizer should add BOS: false when the template already wrote it."""


@dataclass(frozen=True, slots=True)
class ChatTemplate:
    """Renders messages with one llama-cpp-python chat format (named or from the GGUF)."""

    name: str
    """The chat format name, or "gguf" for the template stored in the model file."""
    formatter: Formatter

    @classmethod
    def named(cls, name: str) -> ChatTemplate:
        """The llama-cpp-python chat format ``name`` (e.g. "chatml", "gemma")."""
        from llama_cpp import llama_chat_format

        registry = llama_chat_format.LlamaChatCompletionHandlerRegistry()  # type: ignore[no-untyped-call]
        try:
            handler = registry.get_chat_completion_handler_by_name(name)
        except Exception:
            handler = None
        # Registered formats are closures over their formatter; handlers that are not
        # (function-calling ones) need a full Llama call and cannot render a plain prompt.
        formatter = None
        if handler is not None:
            formatter = inspect.getclosurevars(handler).nonlocals.get("chat_formatter")
        if formatter is None:
            raise UserError(
                f"unknown or unsupported chat_format {name!r}",
                hint=f"use one of: {', '.join(supported_chat_formats())}",
            )
        return cls(name, formatter)

    @classmethod
    def from_gguf(
        cls, metadata: Mapping[str, str], *, bos: str, eos: str, eos_id: int
    ) -> ChatTemplate:
        """The Jinja template stored in a GGUF's ``tokenizer.chat_template``."""
        from llama_cpp import llama_chat_format

        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=metadata["tokenizer.chat_template"],
            eos_token=eos,
            bos_token=bos,
            stop_token_ids=[eos_id],
        )
        return cls("gguf", formatter)

    def render(
        self, messages: list[Message], *, tools: list[dict[str, Any]] | None = None
    ) -> ChatPrompt:
        """The prompt text for ``messages``, ending where the assistant's reply starts;
        ``tools`` (OpenAI tool specs) go to templates that render them."""
        extra = {"tools": tools} if tools else {}
        try:
            result = self.formatter(messages=[_template_dict(m) for m in messages], **extra)
        except Exception as exc:  # jinja2 raise_exception() in templates, e.g. bad role order
            raise UserError(
                f"chat template {self.name!r} rejected the messages: {exc}",
                hint="check the message roles and their order (many templates want "
                "user/assistant turns to alternate)",
            ) from None
        stop = result.stop
        stops = () if stop is None else (stop,) if isinstance(stop, str) else tuple(stop)
        return ChatPrompt(result.prompt, stops, add_bos=not result.added_special)


def _template_dict(message: Message) -> dict[str, Any]:
    """A message as chat templates read it: tool-call arguments as objects (HF's convention)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def supported_chat_formats() -> list[str]:
    """Names of llama-cpp-python chat formats that render a plain prompt."""
    from llama_cpp import llama_chat_format

    registry = llama_chat_format.LlamaChatCompletionHandlerRegistry()  # type: ignore[no-untyped-call]
    names = []
    for name in registry._chat_handlers:
        handler = registry.get_chat_completion_handler_by_name(name)
        if "chat_formatter" in inspect.getclosurevars(handler).nonlocals:
            names.append(name)
    return sorted(names)
