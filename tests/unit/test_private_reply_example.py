"""The private_reply example: placeholders go out, restored replies come back, cards stay local."""

from __future__ import annotations

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from collab.types import Message

example = load_example("private_reply")


def slm() -> ScriptedModel:
    def reply(messages: list[Message]) -> str:
        if "person's name" in messages[-1].content:
            return "Maria Garcia" if "Maria Garcia" in messages[-1].content else "NONE"
        return "We will refund the duplicate charge."

    return ScriptedModel(reply, name="slm", kind="local")


def test_the_default_messages_are_guarded_as_the_docstring_says() -> None:
    llm = ScriptedModel(
        lambda _: "Thanks <NAME_1>, we wrote to <EMAIL_1>.", name="llm", kind="remote"
    )
    graph = example.build_graph(slm(), llm)
    with Run() as run:
        finals = [graph.invoke({"question": m}) for m in example.DEFAULT_MESSAGES]
    contact, card, server = finals
    assert contact["answer"] == "Thanks Maria Garcia, we wrote to maria.garcia@example.com."
    assert contact["details"]["redactions"] == {"NAME": 1, "EMAIL": 1, "PHONE": 1}
    assert card["answered_by"] == "slm" and card["details"]["kept_local_for"] == ["CARD"]
    assert server["details"]["redactions"] == {"IP": 1, "API_KEY": 1}
    sent = " ".join(m.content for call in llm.calls for m in call)
    for secret in ("maria.garcia@", "612 345", "4111", "10.0.4.17", "sk-proj"):
        assert secret not in sent
    assert len(llm.calls) == 2
    assert example.replies_table(finals).row_count == 3
    assert [r.redactions for r in run.ledger.records if r.redactions] == [
        {"NAME": 1, "EMAIL": 1, "PHONE": 1},
        {"IP": 1, "API_KEY": 1},
    ]
