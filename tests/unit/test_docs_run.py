"""Every ``python`` block in README.md and docs/ runs, offline, with scripted stand-in models.

Blocks marked ``# docs-test: real models`` run in tests/integration/test_docs_real.py instead;
``# docs-test: skip: reason`` is reported with its reason. See tests/doc_blocks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import ALL_BLOCKS, Block, PageRunner

_runners: dict[Path, PageRunner] = {}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_block_runs(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if block.mode == "skip":
        pytest.skip(f"marked skip in the page: {block.reason}")
    if block.mode == "real models":
        pytest.skip("needs the real models: tests/integration/test_docs_real.py runs it")
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    runner = _runners.setdefault(block.page, PageRunner(block.page))
    runner.run(block)
    out = capsys.readouterr().out
    assert " object at 0x" not in out, f"the block printed an object's repr:\n{out}"


def test_every_page_with_python_blocks_is_collected() -> None:
    pages = {b.page.name for b in ALL_BLOCKS}
    assert {"README.md", "budgets.md", "getting-started.md", "cascade.md"} <= pages


def test_offline_blocks_use_no_real_model() -> None:
    for block in ALL_BLOCKS:
        if block.mode == "offline":
            code = "\n".join(line.split("#")[0] for line in block.code.splitlines())
            for real in ("LocalModel.from_catalog(", "embedded_llm(", "default_llm(", "Server("):
                assert real not in code, f"{block.id} calls {real}: mark it real models"
