"""Every ``python`` block of the pattern pages written with scripted stand-ins runs as is."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

PAGES = Path(__file__).resolve().parents[2] / "docs" / "patterns"
SCRIPTED_PAGES = ["rag.md", "minions.md", "privacy_guard.md"]
BLOCKS = [
    (page, index, block)
    for page in SCRIPTED_PAGES
    for index, block in enumerate(
        re.findall(r"```python\n(.*?)```", (PAGES / page).read_text(encoding="utf-8"), re.S)
    )
]


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS, ids=lambda v: str(v)[:12])
def test_block_runs(
    page: str, index: int, block: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"pattern_doc_block_{index}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, page, "exec"), module.__dict__)
