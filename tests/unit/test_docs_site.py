"""The docs site builds with ``mkdocs build --strict``: every page in the nav, API reference
pages from the docstrings (mkdocstrings), Mermaid diagrams rendered rather than shown as code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("mkdocs", "material", "mkdocstrings")),
    reason="mkdocs, mkdocs-material or mkdocstrings[python] not installed (pip install -e .[dev])",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return out


def test_every_page_is_in_the_nav(site: Path) -> None:
    for page in (ROOT / "docs").rglob("*.md"):
        built = site / page.relative_to(ROOT / "docs").with_suffix("") / "index.html"
        if page.name == "index.md":
            built = site / page.relative_to(ROOT / "docs").with_name("index.html")
        assert built.is_file(), f"{page} was not built"
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").rglob("*.md"):
        assert page.relative_to(ROOT / "docs").as_posix() in nav, f"{page.name} is not in the nav"


def test_the_api_reference_comes_from_the_docstrings(site: Path) -> None:
    html = (site / "api" / "models" / "index.html").read_text(encoding="utf-8")
    assert "RemoteModel" in html and "A model behind an HTTP API, called through LiteLLM" in html


def test_mermaid_diagrams_are_rendered(site: Path) -> None:
    html = (site / "patterns" / "router" / "index.html").read_text(encoding="utf-8")
    assert 'class="mermaid"' in html and "language-mermaid" not in html
