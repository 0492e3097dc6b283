"""The embedded "remote" LLM: llama-cpp-python's OpenAI-compatible server on loopback.

``EmbeddedServer`` runs it as a child process on 127.0.0.1 with a free port, waits until it
answers, and always stops it (context exit, errors, Ctrl-C, interpreter exit). Its
``remote_model()`` is a ``RemoteModel`` reached over HTTP through LiteLLM, exactly as a cloud
provider would be, priced at a stand-in list price so cost comparisons mean something.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collab.errors import ServerStartError, UserError
from collab.models.remote import RemoteModel
from collab.types import ModelPrice

__all__ = [
    "DEFAULT_SERVER_MODEL",
    "SERVER_MODEL_ENV_VAR",
    "STAND_IN_PRICE",
    "EmbeddedServer",
    "default_server_model",
    "embedded_llm",
]

DEFAULT_SERVER_MODEL = "qwen2.5-coder-1.5b-instruct"
SERVER_MODEL_ENV_VAR = "COLLAB_SERVER_MODEL"
"""Environment variable naming the model the embedded server serves when none is given."""
"""Chosen by measurement (README, bench/choose_server_model.py)."""

STAND_IN_PRICE = ModelPrice(input_per_mtok_usd=0.15, output_per_mtok_usd=0.60)
"""gpt-4o-mini's list price: what the embedded model's tokens would cost from a provider."""

DEFAULT_SERVER_CONTEXT = 4096
EMBEDDED_TIMEOUT_S = 600.0
"""Per-call timeout of the embedded server's ``RemoteModel``: it answers one request at a time
on the local CPU, so a long answer of a 1.5B model on a busy machine can take minutes, and a
timed-out retry only queues the same work again."""
STOP_GRACE_S = 5.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    try:
        if process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
    finally:
        if process.stdin is not None:
            process.stdin.close()


class EmbeddedServer:
    """llama-cpp-python's OpenAI-compatible server for one catalog model or GGUF path."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        chat_format: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        startup_timeout_s: float = 60.0,
        alias: str | None = None,
        price: ModelPrice | None = STAND_IN_PRICE,
        prompt_lookup: int = 0,
    ) -> None:
        """``prompt_lookup``: tokens drafted per step by llama-cpp-python's prompt-lookup
        decoding (``LlamaPromptLookupDecoding``: n-grams of the prompt and the output so far,
        verified in one batch); 0, the default, decodes plainly. It pays on replies that copy
        the prompt (edits, extraction). Greedy replies are the model's greedy choices computed
        in the verification batch, not always bit-identical to plain decoding (see
        docs/speculative.md); an OpenAI ``prediction`` is not used by this server."""
        if isinstance(prompt_lookup, bool) or not (
            isinstance(prompt_lookup, int) and 0 <= prompt_lookup <= 64
        ):
            raise UserError(
                f"prompt_lookup must be an integer from 0 (off) to 64, got {prompt_lookup!r}",
                hint="e.g. EmbeddedServer(model, prompt_lookup=10)",
            )
        self.prompt_lookup = prompt_lookup
        self.model = model if model is not None else default_server_model()
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.price = price
        self._chat_format = chat_format
        self._n_ctx = n_ctx
        self._n_threads = n_threads or os.cpu_count() or 1
        self._alias = alias
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def model_alias(self) -> str:
        return self._alias or Path(str(self.model)).stem

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise ServerStartError("the embedded server is not started", hint="call start()")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (to watch or signal it)."""
        return self._process.pid if self.running and self._process is not None else None

    def _config(self) -> dict[str, Any]:
        from collab.models.gguf_file import check_gguf

        name = str(self.model)
        if Path(name).suffix == ".gguf" or Path(name).exists():
            path, chat_format, context = Path(name), self._chat_format, None
            check_gguf(path)
        else:
            from collab.models.catalog import get_entry, model_path

            entry = get_entry(name)
            path = model_path(entry.name)
            chat_format = self._chat_format or entry.chat_format
            context = entry.context_length
            check_gguf(path, pull_hint=f"run `collab models pull {entry.name}` again")
        if chat_format is not None:
            from collab.models.chat_prompt import supported_chat_formats

            known = supported_chat_formats()
            if chat_format not in known:
                raise UserError(
                    f"unknown chat format {chat_format!r} for the embedded server",
                    hint=f"use one of llama-cpp-python's: {', '.join(sorted(known))}",
                )
        n_ctx = self._n_ctx or min(context or DEFAULT_SERVER_CONTEXT, DEFAULT_SERVER_CONTEXT)
        return {
            "host": self.host,
            "port": self.port,
            "model": str(path),
            "alias": self.model_alias,
            "chat_format": chat_format,
            "n_ctx": n_ctx,
            "n_threads": self._n_threads,
            "parent_pid": os.getpid(),
            # PR_SET_PDEATHSIG fires when the starting *thread* ends: only the main thread
            # lives as long as the process.
            "pdeathsig": threading.current_thread() is threading.main_thread(),
            "prompt_lookup": self.prompt_lookup,
        }

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it answers; ``ServerStartError`` if it does not."""
        if self.running:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        config = self._config()
        self._workdir = tempfile.TemporaryDirectory(prefix="collab-server-")
        folder = Path(self._workdir.name)
        (folder / "config.json").write_text(json.dumps(config))
        log = (folder / "server.log").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "collab.models.server_child", str(folder / "config.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,  # never written: its EOF tells the child we are gone
            start_new_session=True,  # Ctrl-C reaches us, and we stop the child ourselves
        )
        log.close()
        self._finalizer = weakref.finalize(self, _stop_process, self._process)
        atexit.register(self._finalizer)
        try:
            self._wait_ready(folder / "server.log")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, log_path: Path) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-6:]
                raise ServerStartError(
                    f"embedded server for {self.model} exited with code "
                    f"{self._process.returncode} before answering: " + " | ".join(tail),
                    hint="check the model and chat format; COLLAB_DEBUG=1 shows the server log",
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ServerStartError(
            f"embedded server for {self.model} did not answer within {self.startup_timeout_s} s",
            hint="raise startup_timeout_s on a slow machine",
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()  # stops the process once, and detaches from atexit
            atexit.unregister(self._finalizer)
            self._finalizer = None
        self._process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def remote_model(self, **kwargs: Any) -> RemoteModel:
        """A ``RemoteModel`` for this server, over HTTP through LiteLLM."""
        kwargs.setdefault("prices", self.price)
        kwargs.setdefault("name", f"embedded/{self.model_alias}")
        kwargs.setdefault("timeout_s", EMBEDDED_TIMEOUT_S)
        return RemoteModel(f"openai/{self.model_alias}", api_base=self.base_url, **kwargs)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"EmbeddedServer({str(self.model)!r}, {state})"


@contextmanager
def embedded_llm(model: str | Path | None = None, **kwargs: Any) -> Iterator[RemoteModel]:
    """Start an ``EmbeddedServer`` and yield its ``RemoteModel``; stops it on exit."""
    with EmbeddedServer(model, **kwargs) as server:
        yield server.remote_model()


def default_server_model() -> str:
    """``$COLLAB_SERVER_MODEL``, else ``DEFAULT_SERVER_MODEL`` (qwen2.5-coder-1.5b-instruct)."""
    return os.environ.get(SERVER_MODEL_ENV_VAR) or DEFAULT_SERVER_MODEL
