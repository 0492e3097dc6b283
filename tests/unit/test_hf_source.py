"""HuggingFaceSource: huggingface_hub when installed, plain HTTP otherwise; same errors, offline."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from collab import PullError
from collab.models.model_files import HuggingFaceSource

SOURCE = HuggingFaceSource("org/repo", "model.gguf", revision="v1")


class FakeHubError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"{status}")
        self.response = types.SimpleNamespace(status_code=status)


def fake_hub(monkeypatch: pytest.MonkeyPatch, download: Any) -> list[dict[str, Any]]:
    """A stand-in ``huggingface_hub`` with ``hf_hub_download``; returns the calls it saw."""
    calls: list[dict[str, Any]] = []

    def hf_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, "filename": filename, **kwargs})
        return str(download(Path(kwargs["local_dir"]) / filename))

    hub = types.ModuleType("huggingface_hub")
    hub.hf_hub_download = hf_hub_download  # type: ignore[attr-defined]
    errors = types.ModuleType("huggingface_hub.errors")
    errors.HfHubHTTPError = FakeHubError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    monkeypatch.setitem(sys.modules, "huggingface_hub.errors", errors)
    return calls


def test_the_hub_downloads_and_the_bytes_reach_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def download(path: Path) -> Path:
        path.write_bytes(b"GGUF" + b"x" * 100)
        return path

    calls = fake_hub(monkeypatch, download)
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    out, seen = io.BytesIO(), []
    SOURCE.write_to(out, seen.append)
    assert out.getvalue() == b"GGUF" + b"x" * 100 and sum(seen) == 104
    assert calls[0]["repo_id"] == "org/repo" and calls[0]["revision"] == "v1"
    assert calls[0]["token"] == "hf_secret"


def test_a_hub_http_error_says_what_hugging_face_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    def download(path: Path) -> Path:
        raise FakeHubError(404)

    fake_hub(monkeypatch, download)
    with pytest.raises(PullError, match=r"Hugging Face answered 404 for https://huggingface"):
        SOURCE.write_to(io.BytesIO(), lambda n: None)


def test_the_real_hub_offline_is_a_pull_error(monkeypatch: pytest.MonkeyPatch) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PullError, match=r"could not download .*model\.gguf") as info:
        SOURCE.write_to(io.BytesIO(), lambda n: None)
    assert "check the network" in info.value.hint


def test_without_the_hub_plain_http_gives_the_same_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(404)

    with pytest.raises(PullError, match=r"Hugging Face answered 404 for https://huggingface"):
        SOURCE.write_to(io.BytesIO(), lambda n: None, transport=httpx.MockTransport(answer))
    assert str(requests[0].url) == SOURCE.url


def test_hub_absent_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    from collab.models import model_files

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    assert not model_files._hub_installed()
