"""check_gguf: every bad file is refused with a clear error before llama.cpp sees it."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from collab import ModelFileCorruptError, ModelFileMissingError
from collab.models.gguf_file import check_gguf


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def make_gguf(
    *, tensors: list[tuple[str, list[int], int]], version: int = 3, template: str | None = None
) -> bytes:
    """A tiny but complete GGUF: metadata, tensor table, aligned data of the right length."""
    kvs = [_string("general.architecture") + struct.pack("<I", 8) + _string("llama")]
    kvs.append(_string("llama.context_length") + struct.pack("<I", 4) + struct.pack("<I", 512))
    kvs.append(  # an array of strings, as tokenizers store their vocabularies
        _string("tokenizer.ggml.tokens")
        + struct.pack("<I", 9)
        + struct.pack("<IQ", 8, 3)
        + b"".join(_string(t) for t in ("a", "b", "c"))
    )
    if template:
        kvs.append(_string("tokenizer.chat_template") + struct.pack("<I", 8) + _string(template))
    header = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs)
    offset, table, sizes = 0, b"", []
    block_bytes = {0: (1, 4), 2: (32, 18)}
    for name, dims, kind in tensors:
        table += _string(name) + struct.pack("<I", len(dims))
        table += b"".join(struct.pack("<Q", d) for d in dims)
        table += struct.pack("<IQ", kind, offset)
        elements = 1
        for d in dims:
            elements *= d
        block, size = block_bytes.get(kind, (1, 4))
        sizes.append(elements // block * size)
        offset += -(-sizes[-1] // 32) * 32
    body = header + table
    body += b"\0" * (-len(body) % 32)
    return body + b"\1" * (offset - (-(-sizes[-1] // 32) * 32) + sizes[-1])


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(
        make_gguf(tensors=[("w", [64, 4], 0), ("q", [32, 8], 2)], template="{{ messages }}")
    )
    return path


def test_a_whole_file_passes_with_its_metadata(good: Path) -> None:
    info = check_gguf(good)
    assert info.architecture == "llama"
    assert info.context_length == 512
    assert info.chat_template == "{{ messages }}"
    assert info.tensor_count == 2
    assert info.expected_size == info.actual_size == good.stat().st_size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match="does not exist"):
        check_gguf(tmp_path / "nope.gguf")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.gguf").write_bytes(b"")
    with pytest.raises(ModelFileCorruptError, match="empty"):
        check_gguf(tmp_path / "e.gguf")


def test_a_zip_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x", "y")
    with pytest.raises(ModelFileCorruptError, match="a zip or wheel"):
        check_gguf(path)


def test_random_bytes_are_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "r.gguf"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ModelFileCorruptError, match="is not a GGUF file"):
        check_gguf(path)


def test_truncated_data_gives_both_sizes(good: Path) -> None:
    data = good.read_bytes()
    good.write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelFileCorruptError, match=r"is truncated \(0\.0 MB of 0\.0 MB\)"):
        check_gguf(good)


def test_truncated_header(good: Path) -> None:
    good.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ModelFileCorruptError, match="header runs past the end"):
        check_gguf(good)


def test_unknown_tensor_type(tmp_path: Path) -> None:
    path = tmp_path / "u.gguf"
    path.write_bytes(make_gguf(tensors=[("w", [4], 250)]))
    with pytest.raises(ModelFileCorruptError, match="unknown ggml type 250"):
        check_gguf(path)


def test_unsupported_version(tmp_path: Path) -> None:
    path = tmp_path / "v.gguf"
    path.write_bytes(make_gguf(tensors=[("w", [4], 0)], version=9))
    with pytest.raises(ModelFileCorruptError, match="version 9"):
        check_gguf(path)


def test_pull_hint_replaces_the_default(good: Path) -> None:
    good.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ModelFileCorruptError) as info:
        check_gguf(good, pull_hint="run `collab models pull x` again")
    assert info.value.hint == "run `collab models pull x` again"


def test_absurd_sizes_in_the_header_are_refused(tmp_path: Path) -> None:
    huge_string = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62) + b"key"
    huge_array = (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + _string("tokenizer.ggml.tokens")
        + struct.pack("<I", 9)
        + struct.pack("<IQ", 8, 2**60)  # 2**60 strings
        + _string("a")
    )
    for name, data in (("s.gguf", huge_string), ("a.gguf", huge_array)):
        path = tmp_path / name
        path.write_bytes(data + b"\0" * 64)
        with pytest.raises(ModelFileCorruptError, match=r"do not fit|runs past the end"):
            check_gguf(path)


def test_the_tensor_table_and_metadata_are_read_by_gguf(good: Path) -> None:
    info = check_gguf(good)
    assert (info.tensor_count, info.architecture, info.context_length) == (2, "llama", 512)
