"""docs/patterns/plan_execute.md: its graph is the pattern's, and its Python block runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collab import ScriptedModel
from collab.patterns import plan_execute

PAGE = Path(__file__).resolve().parents[2] / "docs" / "patterns" / "plan_execute.md"
TEXT = PAGE.read_text()
SAMPLES = re.findall(r"```python\n(.*?)```", TEXT, re.DOTALL)


def test_the_page_draws_the_graph_the_pattern_builds() -> None:
    drawn = plan_execute.build(slm=ScriptedModel([]), llm=ScriptedModel([])).get_graph()
    shown = re.search(r"```mermaid\n(.*?)```", TEXT, re.DOTALL)
    assert shown is not None and shown.group(1).strip() == drawn.draw_mermaid().strip()


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_runs(sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(sample, str(PAGE), "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("About 4.3 weeks (30 days).\n")
    assert "2 calculator {'expression': '30 / 7'} 4.285714285714286 slm 1" in out
