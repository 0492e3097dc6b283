"""The doc pages whose blocks need real models run whole, in order, on the real ones.

Every page with a ``# docs-test: real models`` block runs here (its offline blocks too, as a
reader runs the page): SmolLM2 in-process and the embedded server over HTTP, as the blocks say.
Whatever a page started (servers, models) is stopped when the page is done.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import PAGES, ROOT, PageRunner, blocks_of

pytestmark = pytest.mark.integration

REAL_PAGES = [p for p in PAGES if any(b.mode == "real models" for b in blocks_of(p))]


IDS = [p.relative_to(ROOT).as_posix() for p in REAL_PAGES]


@pytest.mark.parametrize("page", REAL_PAGES, ids=IDS)
def test_page_runs_on_real_models(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm2_source_path: object
) -> None:
    from collab import EmbeddedServer

    monkeypatch.chdir(tmp_path)
    # The pages' embedded servers serve SmolLM2 here: the 1.5B default would take minutes a page.
    monkeypatch.setenv("COLLAB_SERVER_MODEL", "smollm2-135m-instruct")
    runner = PageRunner(page)
    try:
        for block in blocks_of(page):
            if block.mode != "skip":
                runner.run(block)
    finally:
        for value in list(vars(runner.module).values()):
            if isinstance(value, EmbeddedServer):
                value.stop()
            elif callable(getattr(value, "close", None)) and hasattr(value, "kind"):
                value.close()
