"""LiteLLM, imported on first use (it takes seconds) and configured to stay quiet and offline,
with known keys masked in its logs."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from types import ModuleType

from collab.redaction import LOG_FILTER

__all__ = ["aimport_litellm", "import_litellm"]

_lock = threading.Lock()
_module: ModuleType | None = None
_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def import_litellm() -> ModuleType:
    """The ``litellm`` module, with the bundled price map, no banners, no telemetry, and
    ``collab.redaction.LOG_FILTER`` on its loggers."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            # Read at import time: without it LiteLLM fetches its price map from GitHub.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" prints on errors
            for name in _LOGGERS:  # before any handler, whoever added it
                logging.getLogger(name).addFilter(LOG_FILTER)
            if hasattr(litellm, "telemetry"):  # older releases phoned home unless told not to
                litellm.telemetry = False
            if "LITELLM_LOG" not in os.environ:
                # LiteLLM logs every call at INFO through its own handler: an app that logs at
                # INFO would get each line twice. LITELLM_LOG=DEBUG still turns it all on.
                for name in _LOGGERS:
                    logging.getLogger(name).setLevel(logging.WARNING)
            _module = litellm
    return _module


async def aimport_litellm() -> ModuleType:
    """``import_litellm`` that keeps the first, slow import off the event loop."""
    return _module if _module is not None else await asyncio.to_thread(import_litellm)
