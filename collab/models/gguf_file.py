"""Check a GGUF file before llama.cpp sees it: magic, version, and that no byte is missing.

llama.cpp aborts or crashes on a file that is not GGUF or is cut short, so every load goes
through ``check_gguf`` first. The header (metadata and tensor table) is read by the ``gguf``
package's ``GGUFReader`` (llama.cpp's own reader); the tensor data is not touched. The expected
size is the aligned start of the tensor data plus the end of the last tensor.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collab.errors import ModelFileCorruptError, ModelFileMissingError

if TYPE_CHECKING:
    from gguf import GGUFReader

__all__ = ["GGUFInfo", "check_gguf"]

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)


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


class _UnknownType(Exception):
    def __init__(self, tensor: str, ggml_type: int) -> None:
        super().__init__(tensor, ggml_type)
        self.tensor, self.ggml_type = tensor, ggml_type


def _skip_strings(data: Any, offset: int, count: int) -> int:
    """The offset after ``count`` GGUF strings from ``offset``; ``IndexError`` past the end."""
    size = len(data)
    for _ in range(count):
        if offset + 8 > size:
            raise IndexError("string length past the end")
        offset += 8 + struct.unpack_from("<Q", data, offset)[0]
    if offset > size:
        raise IndexError("string past the end")
    return offset


def _header_reader() -> type[GGUFReader]:
    import numpy as np
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFValueType

    class HeaderReader(GGUFReader):
        """``GGUFReader`` that reads the tensor table but maps no tensor data: a truncated
        file is reported by its sizes instead of failing inside numpy.

        Flat arrays (a tokenizer's vocabulary and merges: ~100k items) are taken whole rather
        than item by item: GGUFReader's per-item walk takes seconds on SmolLM2, this ~0.1 s.
        """

        end_of_data: int = 0
        tensor_count: int = 0

        def _get_field_parts(self, orig_offs: int, raw_type: int) -> Any:
            if raw_type != GGUFValueType.ARRAY:
                return super()._get_field_parts(orig_offs, raw_type)
            raw_item = self._get(orig_offs, np.uint32)
            length = self._get(orig_offs + 4, np.uint64)
            item, count, start = GGUFValueType(int(raw_item[0])), int(length[0]), orig_offs + 12
            types = [GGUFValueType.ARRAY, item]
            scalar = self.gguf_scalar_to_np.get(item)
            if scalar is not None:
                values = self._get(start, scalar, count)
                if len(values) < count:
                    raise IndexError("array past the end")
                return 12 + int(values.nbytes), [raw_item, length, values], [2], types
            if item == GGUFValueType.STRING:
                end = _skip_strings(self.data, start, count)
                return end - orig_offs, [raw_item, length, self.data[start:end]], [], types
            return super()._get_field_parts(orig_offs, raw_type)

        def _build_tensors(self, start_offs: int, fields: list[Any]) -> None:
            end = 0
            for field in fields:
                _, name, _, dims, raw_type, offset = field.parts
                try:
                    ggml_type = GGMLQuantizationType(int(raw_type[0]))
                except ValueError:
                    tensor = bytes(name).decode(errors="replace")
                    raise _UnknownType(tensor, int(raw_type[0])) from None
                block, size = GGML_QUANT_SIZES[ggml_type]
                elements = 1
                for dim in dims.tolist():
                    elements *= int(dim)
                end = max(end, int(offset[0]) + elements * size // block)
            self.end_of_data, self.tensor_count = end, len(fields)

    return HeaderReader


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
    unsupported version, a header that runs past the end or holds absurd sizes, an unknown
    tensor type, or truncated data). ``pull_hint`` replaces the default "re-download it" hint.
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
    with file.open("rb") as handle:
        head = handle.read(16)
    if not head.startswith(MAGIC):
        raise ModelFileCorruptError(
            f"model file {file} is not a GGUF file: it {_describe_start(head)}", hint=hint
        )
    version = struct.unpack_from("<I", head, 4)[0] if len(head) >= 8 else None
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise ModelFileCorruptError(
            f"model file {file} has GGUF version {version}; supported: {SUPPORTED_VERSIONS}",
            hint="use a GGUF v2 or v3 file (convert it with a recent llama.cpp)",
        )
    try:
        reader = _header_reader()(file)
    except _UnknownType as unknown:
        raise ModelFileCorruptError(
            f"model file {file}: tensor {unknown.tensor!r} has unknown ggml type "
            f"{unknown.ggml_type}",
            hint="this file needs a newer collab/llama.cpp, or it is damaged",
        ) from None
    except (IndexError, ValueError, OverflowError, MemoryError, KeyError, UnicodeDecodeError):
        # gguf reads short past the end of the file, then fails on what it read: a header cut
        # short, or sizes in it that point past the end (damaged bytes, or not a model at all).
        raise ModelFileCorruptError(
            f"model file {file} is truncated: its header runs past the end ({_mb(actual)}) or "
            "holds sizes that do not fit in the file",
            hint=hint,
        ) from None
    if reader.data_offset > actual:
        raise ModelFileCorruptError(
            f"model file {file} is truncated: its header runs past the end ({_mb(actual)})",
            hint=hint,
        )
    expected = reader.data_offset + reader.end_of_data
    if actual < expected:
        raise ModelFileCorruptError(
            f"model file {file} is truncated ({_mb(actual)} of {_mb(expected)})", hint=hint
        )
    return _info(file, reader, int(version or 0), expected, actual)


def _info(file: Path, reader: GGUFReader, version: int, expected: int, actual: int) -> GGUFInfo:
    architecture = _text(reader, "general.architecture")
    context = _integer(reader, f"{architecture}.context_length") if architecture else None
    return GGUFInfo(
        path=file,
        version=version,
        architecture=architecture,
        name=_text(reader, "general.name"),
        context_length=context,
        chat_template=_text(reader, "tokenizer.chat_template"),
        tensor_count=reader.tensor_count,  # type: ignore[attr-defined]
        expected_size=expected,
        actual_size=actual,
    )


def _text(reader: GGUFReader, key: str) -> str | None:
    field = reader.get_field(key)
    if field is None or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace") or None


def _integer(reader: GGUFReader, key: str) -> int | None:
    field = reader.get_field(key)
    if field is None or not field.data:
        return None
    value = field.parts[field.data[0]]
    return int(value[0]) if value.dtype.kind in "iu" else None
