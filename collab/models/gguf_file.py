"""Check a GGUF file before llama.cpp sees it: magic, version, and that no byte is missing.

llama.cpp aborts or crashes on a file that is not GGUF or is cut short, so every load goes
through ``check_gguf`` first. Only the header is read (metadata and tensor table); the expected
size is the aligned start of the tensor data plus the end of the last tensor.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from collab.errors import ModelFileCorruptError, ModelFileMissingError

__all__ = ["GGUFInfo", "check_gguf"]

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# ggml type id -> (elements per block, bytes per block), as in gguf-py's GGML_QUANT_SIZES.
GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17), 40: (64, 36), 41: (128, 18),
}  # fmt: skip

# GGUF metadata value types -> struct format of fixed-size scalars.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What the header of a whole, valid GGUF file says."""

    path: Path
    version: int
    architecture: str | None
    name: str | None
    context_length: int | None
    chat_template: str | None
    tensor_count: int
    expected_size: int
    actual_size: int


class _Truncated(Exception):
    """The header runs past the end of the file."""


class _Reader:
    def __init__(self, data: mmap.mmap | bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int | float | bool:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = int(self.take("<Q"))
        end = self.pos + length
        if end > len(self.data):
            raise _Truncated
        raw = self.data[self.pos : end]
        self.pos = end
        return bytes(raw).decode("utf-8", errors="replace")

    def value(self, kind: int, *, keep: bool) -> object:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            if keep:
                return self.string()
            length = int(self.take("<Q"))
            self.pos += length
            if self.pos > len(self.data):
                raise _Truncated
            return None
        if kind == _ARRAY:
            item_kind = int(self.take("<I"))
            count = int(self.take("<Q"))
            if item_kind in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item_kind]) * count
                if self.pos > len(self.data):
                    raise _Truncated
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None
        raise ValueError(f"unknown metadata value type {kind}")


def _describe_start(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return f"starts with {head[:4]!r} (a zip or wheel?)"
    if head.lstrip().startswith((b"<", b"{")):
        return f"starts with {head[:16]!r} (an HTML or JSON page, not a model?)"
    return f"starts with {head[:8]!r}"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def check_gguf(path: str | Path, *, pull_hint: str | None = None) -> GGUFInfo:
    """Read the header of ``path`` and check it is a whole GGUF file.

    Raises ``ModelFileMissingError`` (no such file) or ``ModelFileCorruptError`` (not GGUF, an
    unsupported version, or truncated). ``pull_hint`` replaces the default "re-download it" hint.
    """
    file = Path(path).expanduser()
    hint = pull_hint or f"re-download {file.name}"
    if not file.exists():
        raise ModelFileMissingError(f"model file {file} does not exist", hint=hint)
    if not file.is_file():
        raise ModelFileMissingError(f"model path {file} is not a file", hint="pass a .gguf file")
    actual = file.stat().st_size
    if actual == 0:
        raise ModelFileCorruptError(f"model file {file} is empty (0 bytes)", hint=hint)
    with file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        head = bytes(data[:16])
        if not head.startswith(MAGIC):
            raise ModelFileCorruptError(
                f"model file {file} is not a GGUF file: it {_describe_start(head)}", hint=hint
            )
        try:
            return _parse(file, data, actual, hint)
        except _Truncated:
            raise ModelFileCorruptError(
                f"model file {file} is truncated: its header runs past the end ({_mb(actual)})",
                hint=hint,
            ) from None


def _parse(file: Path, data: mmap.mmap, actual: int, hint: str) -> GGUFInfo:
    reader = _Reader(data)
    reader.pos = 4
    version = int(reader.take("<I"))
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileCorruptError(
            f"model file {file} has GGUF version {version}; supported: {SUPPORTED_VERSIONS}",
            hint="use a GGUF v2 or v3 file (convert it with a recent llama.cpp)",
        )
    tensor_count = int(reader.take("<Q"))
    kv_count = int(reader.take("<Q"))
    wanted = {"general.architecture", "general.name", "general.alignment",
              "tokenizer.chat_template"}  # fmt: skip
    meta: dict[str, object] = {}
    for _ in range(kv_count):
        key = reader.string()
        kind = int(reader.take("<I"))
        keep = key in wanted or key.endswith(".context_length")
        try:
            value = reader.value(kind, keep=keep)
        except ValueError as exc:
            raise ModelFileCorruptError(
                f"model file {file}: {exc} at key {key!r}", hint=hint
            ) from None
        if keep:
            meta[key] = value
    end_of_data = 0
    for _ in range(tensor_count):
        name = reader.string()
        n_dims = int(reader.take("<I"))
        elements = 1
        for _ in range(n_dims):
            elements *= int(reader.take("<Q"))
        ggml_type = int(reader.take("<I"))
        offset = int(reader.take("<Q"))
        if ggml_type not in GGML_BLOCKS:
            raise ModelFileCorruptError(
                f"model file {file}: tensor {name!r} has unknown ggml type {ggml_type}",
                hint="this file needs a newer collab/llama.cpp, or it is damaged",
            )
        block, size = GGML_BLOCKS[ggml_type]
        end_of_data = max(end_of_data, offset + elements // block * size)
    alignment = int(meta.get("general.alignment") or DEFAULT_ALIGNMENT)  # type: ignore[call-overload]
    data_start = -(-reader.pos // alignment) * alignment
    expected = data_start + end_of_data
    if actual < expected:
        raise ModelFileCorruptError(
            f"model file {file} is truncated ({_mb(actual)} of {_mb(expected)})", hint=hint
        )
    architecture = meta.get("general.architecture")
    context = meta.get(f"{architecture}.context_length")
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=file,
        version=version,
        architecture=str(architecture) if architecture else None,
        name=str(meta["general.name"]) if meta.get("general.name") else None,
        context_length=int(context) if isinstance(context, int) else None,  # type: ignore[arg-type]
        chat_template=str(template) if template else None,
        tensor_count=tensor_count,
        expected_size=expected,
        actual_size=actual,
    )
