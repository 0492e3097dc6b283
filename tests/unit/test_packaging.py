"""The wheel: patterns and examples under collab's namespace, no generic top-level packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # setuptools builds in-tree: not in the checkout
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("collab", "patterns", "examples"):
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    pip_wheel = ["pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(out)]
    build = subprocess.run(
        [sys.executable, "-m", *pip_wheel, "-q"],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {build.stderr.strip()[-300:]}")
    (built,) = out.glob("collab-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> list[str]:
    return zipfile.ZipFile(wheel).namelist()


def test_the_wheel_installs_only_collab(wheel_names: list[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.endswith(".dist-info/")}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"collab"}


def test_the_wheel_ships_every_pattern_and_example(wheel_names: list[str]) -> None:
    for folder in ("patterns", "examples"):
        for source in (ROOT / folder).glob("*.py"):
            assert f"collab/{folder}/{source.name}" in wheel_names
    # The checkout's pointer files are replaced by the folders' own __init__.py.
    assert "collab/py.typed" in wheel_names


def test_the_checkout_pointers_reach_the_top_level_folders() -> None:
    import collab.examples
    import collab.patterns

    assert list(collab.patterns.__path__) == [str(ROOT / "patterns")]
    assert list(collab.examples.__path__) == [str(ROOT / "examples")]


def test_collab_run_lists_and_loads_examples_from_the_installed_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import collab, sys\n"
        "from collab.cli.main import main\n"
        "from collab.cli.run_cmd import load_example\n"
        "assert collab.__file__.startswith(sys.argv[1]), collab.__file__\n"
        "load_example('cascade_qa')\n"
        "sys.exit(main(['run']))\n"
    )
    listed = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: only the installed files
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert listed.returncode == 0, listed.stderr
    for source in (ROOT / "examples").glob("[!_]*.py"):
        assert source.stem in listed.stdout
