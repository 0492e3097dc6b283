"""patterns.cascade on the real SmolLM2 and the real embedded server."""

from __future__ import annotations

import pytest
from collab.patterns.cascade import CascadeConfig

from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.patterns import cascade

pytestmark = pytest.mark.integration


def test_cascade_keeps_or_escalates_by_threshold(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = embedded.remote_model()
    config = CascadeConfig(draft_max_tokens=24, answer_max_tokens=24)
    kept = cascade.run(
        "What is the capital of France?",
        slm=smollm2,
        llm=llm,
        config=config.model_copy(update={"threshold": 0.0}),
    )
    escalated = cascade.run(
        "What is the capital of France?",
        slm=smollm2,
        llm=llm,
        config=config.model_copy(update={"threshold": 1.0}),
    )
    assert not kept.escalated and kept.answered_by == smollm2.name and kept.answer
    assert escalated.escalated and escalated.answered_by == llm.name and escalated.answer
    p = kept.verdicts[0].probability
    assert 0.0 < p < 1.0 and escalated.verdicts[0].probability == pytest.approx(p, abs=1e-6)
    assert [r.kind for r in escalated.ledger.records] == ["local", "local", "remote"]
    assert escalated.cost_usd > 0 and kept.cost_usd == 0
