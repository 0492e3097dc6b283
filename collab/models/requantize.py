"""Requantize a GGUF model into another weight format with llama.cpp's own quantizer.

The weight format decides how fast a CPU decodes and how cheaply it verifies a speculative
draft: on 2 AVX2 cores SmolLM2-135M decodes faster as Q4_0 than as the Q4_1 it ships in, and
a batch of 16 tokens costs about 6 one-token decodes as Q4_0 against 7.5 as Q4_1 (see
``docs/speculative.md``). Requantizing an already quantized file adds a little error: the
derived model is close to, not the same as, the original.
"""

from __future__ import annotations

import os
from pathlib import Path

from collab.errors import ModelFileCorruptError, UserError
from collab.models.catalog import collab_home
from collab.models.gguf_file import check_gguf
from collab.models.local_loading import quiet_llama_logs, resolve_model

__all__ = ["FORMATS", "requantize"]

FORMATS: dict[str, int] = {
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q8_0": 7,
    "q5_0": 8,
    "q5_1": 9,
    "q4_k_m": 15,
    "q5_k_m": 17,
    "q6_k": 18,
    "iq4_nl": 25,
}
"""Format names and their ``llama_ftype`` values."""


def requantize(
    source: str | Path,
    target: str | Path | None = None,
    *,
    format: str = "q4_0",
    threads: int | None = None,
) -> Path:
    """``source`` (a catalog name or a GGUF path) rewritten in ``format``; returns its path.

    ``target`` defaults to ``$COLLAB_HOME/models/derived/<source stem>.<format>.gguf``. An
    existing target newer than its source is reused. The file is written next to the target
    and renamed into place, so an interrupted run leaves nothing half-written behind.
    """
    kind = FORMATS.get(format.lower())
    if kind is None:
        raise UserError(
            f"unknown weight format {format!r}",
            hint=f"pick one of: {', '.join(FORMATS)}",
        )
    path, _ = resolve_model(source)
    check_gguf(path)
    out = Path(target) if target is not None else _derived(path, format.lower())
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        check_gguf(out)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + f".{os.getpid()}.partial")
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = kind
    params.allow_requantize = True
    params.nthread = threads or os.cpu_count() or 1
    quiet_llama_logs()
    try:
        code = llama_cpp.llama_model_quantize(str(path).encode(), str(partial).encode(), params)
        if code != 0:
            raise ModelFileCorruptError(
                f"llama.cpp could not requantize {path} to {format} (code {code})",
                hint="check that the file loads with LocalModel, or try another format",
            )
        check_gguf(partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _derived(path: Path, format: str) -> Path:
    return collab_home() / "models" / "derived" / f"{path.stem}.{format}.gguf"
