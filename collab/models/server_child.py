"""The embedded server's child process: llama-cpp-python's OpenAI-compatible app under uvicorn.

Run by ``EmbeddedServer`` as ``python -m collab.models.server_child CONFIG.json``; quiet unless
``COLLAB_DEBUG`` is set. It dies with its parent: on Linux by ``PR_SET_PDEATHSIG``, everywhere by
watching its stdin (a pipe from the parent: EOF once the parent is gone) and its parent pid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp.server.settings import ModelSettings

PR_SET_PDEATHSIG = 1
"""``prctl`` option (linux/prctl.h): the signal this process gets when its parent dies."""
PARENT_POLL_S = 0.5


def die_with_parent(parent_pid: int, *, pdeathsig: bool) -> None:
    """Exit as soon as ``parent_pid`` is gone (the server holds a port and gigabytes of RAM)."""
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchers below still work
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    if sys.stdin is not None and not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, name="collab-stdin-watch", daemon=True).start()
    threading.Thread(target=watch_parent, name="collab-parent-watch", daemon=True).start()


def model_settings(config: dict[str, Any], *, debug: bool = False) -> ModelSettings:
    """llama-cpp-python's settings of the served model, from ``EmbeddedServer``'s config."""
    from llama_cpp.server.settings import ModelSettings

    lookup = int(config.get("prompt_lookup", 0))
    return ModelSettings(
        model=config["model"],
        model_alias=config["alias"],
        chat_format=config["chat_format"],
        n_ctx=config["n_ctx"],
        n_threads=config["n_threads"],
        n_threads_batch=config["n_threads"],
        verbose=debug,
        draft_model="prompt-lookup-decoding" if lookup else None,
        draft_model_num_pred_tokens=lookup or 10,
    )


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    if config.get("parent_pid"):
        die_with_parent(config["parent_pid"], pdeathsig=bool(config.get("pdeathsig")))

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ServerSettings

    from collab.models.server_guard import SchemaGuard

    debug = bool(os.environ.get("COLLAB_DEBUG"))
    server = ServerSettings(host=config["host"], port=config["port"])
    model = model_settings(config, debug=debug)
    app = create_app(server_settings=server, model_settings=[model])
    uvicorn.run(
        SchemaGuard(app),
        host=server.host,
        port=server.port,
        log_level="info" if debug else "warning",
        access_log=debug,
    )


if __name__ == "__main__":
    main(sys.argv[1])
