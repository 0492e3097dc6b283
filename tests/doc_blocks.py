"""The ``python`` blocks of the README and docs/, and how a test runs them.

A page's blocks run in order in one namespace, as a reader runs them. A block's first line may
say how it runs:

    # docs-test: real models          needs SmolLM2 / the embedded server: integration tests only
    # docs-test: skip: <reason>       never run; the test reports the reason
    # needs: <a server>               run by the page's own test, which starts it (deploy.md)

Blocks with no such line run offline in the unit suite (scripted models, stated in the block).
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"\A# docs-test: (real models|skip: (.+))\n")
NEEDS = re.compile(r"\A# needs: (.+)\n")

Mode = Literal["offline", "real models", "skip"]


@dataclass(frozen=True)
class Block:
    page: Path
    index: int
    line: int
    code: str
    mode: Mode
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for index, match in enumerate(FENCE.finditer(text)):
        code = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        mark = MARK.match(code)
        mode: Mode = "offline"
        reason = ""
        needs = NEEDS.match(code)
        if needs:
            mode, reason = "skip", f"needs {needs.group(1).strip()}: run by the page's own test"
        elif mark and mark.group(2):
            mode, reason = "skip", mark.group(2).strip()
        elif mark:
            mode = "real models"
        found.append(Block(page, index, line, code, mode, reason))
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page)]


class PageRunner:
    """Runs one page's blocks in order, in one module namespace."""

    def __init__(self, page: Path) -> None:
        name = "docs_" + re.sub(r"\W", "_", page.relative_to(ROOT).with_suffix("").as_posix())
        self.module = types.ModuleType(name)  # dataclasses defined in a block look it up
        self.ran: set[int] = set()

    def run(self, block: Block) -> None:
        sys.modules[self.module.__name__] = self.module
        try:
            # Line numbers in tracebacks point into the page.
            code = "\n" * block.line + block.code
            exec(compile(code, str(block.page), "exec"), self.module.__dict__)
        finally:
            sys.modules.pop(self.module.__name__, None)
        self.ran.add(block.index)
