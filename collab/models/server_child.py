"""The embedded server's child process: llama-cpp-python's OpenAI-compatible app under uvicorn.

Run by ``EmbeddedServer`` as ``python -m collab.models.server_child CONFIG.json``; quiet unless
``COLLAB_DEBUG`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp.server.settings import ModelSettings


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
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ServerSettings

    config = json.loads(Path(config_path).read_text())
    debug = bool(os.environ.get("COLLAB_DEBUG"))
    server = ServerSettings(host=config["host"], port=config["port"])
    model = model_settings(config, debug=debug)
    app = create_app(server_settings=server, model_settings=[model])
    uvicorn.run(
        app,
        host=server.host,
        port=server.port,
        log_level="info" if debug else "warning",
        access_log=debug,
    )


if __name__ == "__main__":
    main(sys.argv[1])
