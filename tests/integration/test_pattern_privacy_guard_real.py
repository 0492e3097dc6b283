"""patterns.privacy_guard with the real SmolLM2 finding names and the real embedded server."""

from __future__ import annotations

from typing import Any

import pytest

from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.patterns import privacy_guard
from collab.types import Completion, Prompt, normalize_messages

pytestmark = pytest.mark.integration

QUESTION = (
    "Write one sentence to Maria Garcia confirming we emailed maria.garcia@example.com "
    "and will call +34 612 345 678."
)


class Recording:
    """The real remote model, with every prompt it was sent kept for the test."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name, self.kind = model.name, model.kind
        self.sent: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def complete(self, prompt: Prompt, **options: Any) -> Completion:
        self.sent += [m.content for m in normalize_messages(prompt)]
        return self.model.complete(prompt, **options)


def test_the_remote_gets_placeholders_and_the_reply_is_restored(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = Recording(embedded.remote_model())
    result = privacy_guard.run(QUESTION, slm=smollm2, llm=llm)  # type: ignore[arg-type]
    sent = " ".join(llm.sent)
    assert "maria.garcia@example.com" not in sent and "612 345 678" not in sent
    assert "<EMAIL_1>" in sent and "<PHONE_1>" in sent
    # SmolLM2 lists "Maria Garcia confirming we emailed ..."; find_names keeps the name
    assert "Maria Garcia" not in sent and "<NAME_1>" in sent
    assert result.details["redactions"] == {"NAME": 1, "EMAIL": 1, "PHONE": 1}
    assert "<EMAIL_1>" not in result.answer and "<PHONE_1>" not in result.answer
    records = result.ledger.records
    assert [(r.node, r.kind) for r in records] == [("find_names", "local"), ("ask", "remote")]
    assert records[1].redactions == result.details["redactions"]
    assert "maria.garcia" not in result.ledger.model_dump_json()
    print(f"\nprivacy guard on SmolLM2: sent {sent[-160:]!r}\nreply {result.answer!r}")
