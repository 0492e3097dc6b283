"""The cascade evaluated end to end on the real SmolLM2 and the embedded server over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from collab.evaluation.builtin_qa import builtin_qa
from collab.evaluation.datasets import select
from collab.evaluation.report import save_report
from collab.evaluation.runner import evaluate
from collab.evaluation.scoring import get_scorer
from collab.evaluation.systems import EvalSetup, get_pattern_eval, load_systems
from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer

pytestmark = pytest.mark.integration


def test_cascade_eval_on_three_builtin_questions(
    smollm2: LocalModel, embedded: EmbeddedServer, tmp_path: Path
) -> None:
    # Short answers keep the test fast; the questions need only a few words.
    dataset = select(builtin_qa(), limit=3, seed=0).model_copy(update={"max_tokens": 16})
    llm = embedded.remote_model()
    load_systems("collab.patterns.eval_systems")
    system = get_pattern_eval("cascade").factory(EvalSetup(slm=smollm2, llm=llm, dataset=dataset))
    report = evaluate(system, dataset, scorer=get_scorer("contains"), slm=smollm2.name)

    assert report.n_items == 3 and report.errors == 0
    for item in report.items:
        assert item.confidence is not None and 0.0 <= item.confidence <= 1.0
        assert item.cheap is not None and item.cheap.answer and item.cheap.local_tokens > 0
        assert item.expensive is not None and item.expensive.answer
        assert item.expensive.remote_usd > 0  # the embedded server's stand-in price
    rows = {r.label: r for r in report.rows if r.threshold is None}
    assert rows["slm-only"].remote_usd == 0 and rows["slm-only"].local_tokens > 0
    assert rows["llm-only"].remote_usd > 0 and rows["llm-only"].local_tokens == 0
    sweep = [r for r in report.rows if r.threshold is not None]
    assert sweep[0].escalation_rate == 0.0 and sweep[-1].escalation_rate == 1.0
    assert report.spent_remote_usd == pytest.approx(3 * rows["llm-only"].remote_usd)

    json_path, png_path = save_report(report, tmp_path)
    assert json_path.stat().st_size > 0 and png_path is not None and png_path.stat().st_size > 0
