"""Every Python sample in docs/speculative.md runs (on the real SmolLM2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "speculative.md"
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_samples() -> None:
    assert len(SAMPLES) == 3


@pytest.mark.parametrize("sample", SAMPLES, ids=["use", "draft-model", "edit"])
def test_sample_runs(sample: str, smollm2_source_path: object) -> None:
    exec(compile(sample, str(DOC), "exec"), {})
