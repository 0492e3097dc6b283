"""Every ``python`` block of docs/budgets.md runs as is, offline (scripted models)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "budgets.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def run_block(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``block`` as a module of its own (dataclasses in it look their module up)."""
    module = types.ModuleType("budgets_doc_block")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, DOC.name, "exec"), module.__dict__)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # blocks that write traces write them here
    run_block(BLOCKS[index], monkeypatch)


def test_the_custom_model_block_is_metered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [block] = [b for b in BLOCKS if "class Echo" in b]
    run_block(block, monkeypatch)
    assert "[('echo', 'ok', 2)]" in capsys.readouterr().out
