"""Loading a ``LocalModel``: name or path -> checked file -> llama.cpp context + chat setup."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collab.errors import ModelFileCorruptError, UserError
from collab.models.chat_prompt import ChatTemplate

if TYPE_CHECKING:
    from llama_cpp import Llama

    from collab.models.catalog import CatalogEntry

__all__ = ["DEBUG_ENV_VAR", "chat_setup", "load_llama", "positive", "resolve_model"]

DEBUG_ENV_VAR = "COLLAB_DEBUG"
"""When set (to anything non-empty), llama.cpp's own log goes to stderr."""

_log_callback: Any = None  # the installed ctypes callback; kept alive while llama.cpp holds it
_log_lock = threading.Lock()


def resolve_model(path_or_name: str | Path) -> tuple[Path, CatalogEntry | None]:
    """The model file and its catalog entry (None for a path).

    A ``Path``, an existing path, or a string ending in ``.gguf`` is a path; anything else is a
    catalog name, pulled if not on disk (raises ``UnknownModelError``, ``PullError``).
    """
    if isinstance(path_or_name, Path):
        return path_or_name.expanduser(), None
    candidate = Path(path_or_name).expanduser()
    if candidate.exists() or path_or_name.endswith(".gguf"):
        return candidate, None
    from collab.models.catalog import get_entry, model_path

    entry = get_entry(path_or_name)
    return model_path(path_or_name), entry


def load_llama(
    path: Path,
    *,
    n_ctx: int,
    n_threads: int,
    seed: int,
    embedding: bool = False,
    context: dict[str, Any] | None = None,
) -> Llama:
    """A llama.cpp context on ``path`` (already checked as GGUF); embedding ones mean-pool.

    ``context`` adds llama-cpp-python arguments (a speculative target's attention settings).
    Raises ``ModelFileCorruptError`` when llama.cpp refuses the file.
    """
    import llama_cpp

    debug = bool(os.environ.get(DEBUG_ENV_VAR))
    _route_llama_log(debug)
    extra: dict[str, Any] = dict(context or {})
    if embedding:
        # One batch holds a whole text: causal models need no more, and it keeps every text in
        # one ubatch as non-causal embedders require.
        extra.update(pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, n_batch=n_ctx, n_ubatch=n_ctx)
    try:
        return llama_cpp.Llama(
            str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            seed=seed,
            embedding=embedding,
            verbose=debug,
            **extra,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelFileCorruptError(
            f"llama.cpp could not load {path}: {exc}",
            hint=f"pull or copy the file again; set {DEBUG_ENV_VAR}=1 to see llama.cpp's log",
        ) from None


def chat_setup(
    llm: Llama, chat_format: str | None, entry: CatalogEntry | None
) -> tuple[ChatTemplate | None, bool]:
    """The template for chat messages, and whether a plain string prompt is raw text.

    Messages use ``chat_format``, else the catalog's chat format, else the GGUF's template
    (``chat_format="gguf"`` asks for that one, as ``LocalModel.chat_format`` reports it).
    A string is raw text only on a base model with neither a template nor ``chat_format``.
    """
    has_gguf_template = "tokenizer.chat_template" in llm.metadata
    if chat_format == "gguf":
        if not has_gguf_template:
            raise UserError(
                "chat_format='gguf' needs a chat template in the GGUF file, and this one has none",
                hint="name a chat format instead, e.g. chat_format='chatml'",
            )
        chat_format, entry = None, None
    named = chat_format or (entry.chat_format if entry is not None else None)
    template: ChatTemplate | None = None
    if named:
        template = ChatTemplate.named(named)
    elif has_gguf_template:
        template = ChatTemplate.from_gguf(
            llm.metadata,
            bos=_token_text(llm, llm.token_bos()),
            eos=_token_text(llm, llm.token_eos()),
            eos_id=llm.token_eos(),
        )
    is_base = entry.is_base_model if entry is not None else True
    return template, chat_format is None and not has_gguf_template and is_base


def quiet_llama_logs() -> None:
    """Route llama.cpp's log as ``load_llama`` does (silent unless debugging)."""
    _route_llama_log(bool(os.environ.get(DEBUG_ENV_VAR)))


def positive(what: str, value: int | None) -> int | None:
    """``value`` if it is None or a positive int; else ``UserError`` naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(
            f"{what} must be a positive integer, got {value!r}",
            hint=f"omit {what}= for the default",
        )
    return value


def _token_text(llm: Llama, token: int) -> str:
    return "" if token < 0 else llm.detokenize([token], special=True).decode("utf-8", "ignore")


def _route_llama_log(debug: bool) -> None:
    """Send llama.cpp's log to stderr when debugging, else nowhere (process-wide, once).

    llama-cpp-python's own filter maps ggml's log levels off by one, so with ``verbose=False``
    it still prints warnings (and hides errors); a callback of our own decides instead.
    """
    global _log_callback
    with _log_lock:
        if _log_callback is not None:
            return
        import llama_cpp

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            if debug:
                sys.stderr.write(text.decode("utf-8", "replace"))

        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _log_callback = callback
