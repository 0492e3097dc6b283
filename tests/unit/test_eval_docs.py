"""Every Python sample in docs/evaluation.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_samples() -> None:
    assert SAMPLES


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_runs(sample: str) -> None:
    exec(compile(sample, str(DOC), "exec"), {})
