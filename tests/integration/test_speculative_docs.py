"""docs/speculative.md has its three samples, each marked to run on the real SmolLM2.

(They run, with every other real-model doc block, in tests/integration/test_docs_real.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "speculative.md"
SAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_samples() -> None:
    assert len(SAMPLES) == 3


def test_every_sample_runs_on_the_real_models() -> None:
    assert all(s.startswith("# docs-test: real models\n") for s in SAMPLES)
