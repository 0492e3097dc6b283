"""The flagship example's graph: confident drafts stay local, doubtful ones escalate."""

from __future__ import annotations

from collab import ScriptedModel
from collab.cli.run_cmd import load_example

example = load_example("cascade_qa")


def test_a_confident_draft_is_kept_and_the_llm_is_not_called() -> None:
    slm = ScriptedModel(["Paris."], name="slm", kind="local", scores=lambda p, o: [0.9, 0.1])
    llm = ScriptedModel([], name="llm", kind="remote")
    result = example.build_graph(slm, llm, threshold=0.5).invoke({"question": "Capital?"})
    assert result["answer"] == "Paris." and result["answered_by"] == "slm"
    assert llm.calls == []
    assert [c.model for c in result["calls"]] == ["slm"]


def test_a_doubtful_draft_escalates_to_the_llm() -> None:
    slm = ScriptedModel(["421."], name="slm", kind="local", scores=lambda p, o: [0.2, 0.8])
    llm = ScriptedModel(["391."], name="llm", kind="remote", cost_per_token_usd=0.001)
    result = example.build_graph(slm, llm, threshold=0.5).invoke({"question": "17 x 23?"})
    assert result["answer"] == "391." and result["answered_by"] == "llm"
    assert result["confidence"] == 0.2
    assert [c.model for c in result["calls"]] == ["slm", "llm"]
    assert "17 x 23?" in llm.calls[0][-1].content


def test_the_judge_sees_the_question_and_the_draft() -> None:
    seen: list[str] = []

    def scores(prompt: str, options: list[str]) -> list[float]:
        seen.append(prompt)
        assert options == ["yes", "no"]
        return [0.6, 0.4]

    slm = ScriptedModel(["Au."], name="slm", kind="local", scores=scores)
    example.build_graph(slm, ScriptedModel([]), threshold=0.5).invoke({"question": "Gold?"})
    assert "Gold?" in seen[0] and "Au." in seen[0]
