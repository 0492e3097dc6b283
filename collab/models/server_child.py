"""The embedded server's child process: llama-cpp-python's OpenAI-compatible app under uvicorn.

Run by ``EmbeddedServer`` as ``python -m collab.models.server_child CONFIG.json``; quiet unless
``COLLAB_DEBUG`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(config_path: str) -> None:
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    config = json.loads(Path(config_path).read_text())
    debug = bool(os.environ.get("COLLAB_DEBUG"))
    server = ServerSettings(host=config["host"], port=config["port"])
    model = ModelSettings(
        model=config["model"],
        model_alias=config["alias"],
        chat_format=config["chat_format"],
        n_ctx=config["n_ctx"],
        n_threads=config["n_threads"],
        n_threads_batch=config["n_threads"],
        verbose=debug,
    )
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
