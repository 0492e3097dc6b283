"""Every Python sample in docs/tools.md and the README's tool-calling section runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tools.md"
README_SECTION = re.search(
    r"## Tool calling\n(.*?)\n## ", (ROOT / "README.md").read_text(), re.DOTALL
)
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL) + re.findall(
    r"```python\n(.*?)```", README_SECTION.group(1) if README_SECTION else "", re.DOTALL
)


def test_the_pages_have_samples() -> None:
    assert README_SECTION is not None
    assert len(SAMPLES) >= 3


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_runs(sample: str) -> None:
    exec(compile(sample, str(DOC), "exec"), {})
