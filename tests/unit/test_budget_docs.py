"""docs/budgets.md: its custom-model block meters a model with nothing of collab inside.

(Every block of the page runs in tests/unit/test_docs_run.py.)
"""

from __future__ import annotations

import pytest
from doc_blocks import ROOT, PageRunner, blocks_of

DOC = ROOT / "docs" / "budgets.md"


def test_the_custom_model_block_is_metered(capsys: pytest.CaptureFixture[str]) -> None:
    [block] = [b for b in blocks_of(DOC) if "class Echo" in b.code]
    PageRunner(DOC).run(block)
    assert "[('echo', 'ok', 2)]" in capsys.readouterr().out


def test_every_block_of_the_page_runs_offline() -> None:
    assert [b.mode for b in blocks_of(DOC)] == ["offline"] * len(blocks_of(DOC))
