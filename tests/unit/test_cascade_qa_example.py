"""The flagship example's graph: confident drafts stay local, doubtful ones escalate."""

from __future__ import annotations

from collab import Budget, Run, ScriptedModel
from collab.cli.run_cmd import load_example

example = load_example("cascade_qa")


def test_a_confident_draft_is_kept_and_the_llm_is_not_called() -> None:
    slm = ScriptedModel(["Paris."], name="slm", kind="local", scores=lambda p, o: [0.9, 0.1])
    llm = ScriptedModel([], name="llm", kind="remote")
    with Run() as run:
        result = example.build_graph(slm, llm, threshold=0.5).invoke({"question": "Capital?"})
    assert result["answer"] == "Paris." and result["answered_by"] == "slm"
    assert llm.calls == []
    assert [(r.node, r.model) for r in run.ledger.records] == [("draft", "slm"), ("judge", "slm")]


def test_a_doubtful_draft_escalates_to_the_llm() -> None:
    slm = ScriptedModel(["Mercury."], name="slm", kind="local", scores=lambda p, o: [0.2, 0.8])
    llm = ScriptedModel(["Jupiter."], name="llm", kind="remote", cost_per_token_usd=0.001)
    with Run() as run:
        result = example.build_graph(slm, llm, threshold=0.5).invoke(
            {"question": "Largest planet?"}
        )
    assert result["answer"] == "Jupiter." and result["answered_by"] == "llm"
    assert result["confidence"] == 0.2 and result["verdicts"][0]["judge"] == "self-check"
    assert [r.model for r in run.ledger.records] == ["slm", "slm", "llm"]
    assert run.ledger.records[-1].role == "answerer"
    assert "Largest planet?" in llm.calls[0][-1].content


def test_an_exhausted_budget_degrades_the_escalation_to_the_slm() -> None:
    slm = ScriptedModel(
        ["421.", "391 it is."], name="slm", kind="local", scores=lambda p, o: [0.2, 0.8]
    )
    llm = ScriptedModel(["391."], name="llm", kind="remote", cost_per_token_usd=0.001)
    budget = Budget(usd=0.001, policy="degrade")
    with Run(budget=budget, local_model=slm, remote_model=llm) as run:
        result = example.build_graph(slm, llm, threshold=0.5).invoke({"question": "17 x 23?"})
    assert llm.calls == []
    assert result["answered_by"] == "slm" and result["answer"] == "391 it is."
    record = run.ledger.records[-1]
    assert (record.outcome, record.original_model, record.node) == ("degraded", "llm", "escalate")
    assert run.saving().all_remote_usd > run.saving().actual_usd == 0


def test_the_judge_sees_the_question_and_the_draft() -> None:
    seen: list[str] = []

    def scores(prompt: str, options: list[str]) -> list[float]:
        seen.append(prompt)
        assert options == ["yes", "no"]
        return [0.6, 0.4]

    slm = ScriptedModel(["Au."], name="slm", kind="local", scores=scores)
    example.build_graph(slm, ScriptedModel([]), threshold=0.5).invoke({"question": "Gold?"})
    assert "Gold?" in seen[0] and "Au." in seen[0]


def test_code_is_judged_by_its_docstring_examples_not_by_the_slm() -> None:
    wrong = "```python\ndef is_leap_year(year):\n    return year % 4 == 0\n```"
    right = (
        "```python\ndef is_leap_year(year):\n"
        "    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n```"
    )
    slm = ScriptedModel([wrong], name="slm", kind="local", scores=lambda p, o: [0.99, 0.01])
    llm = ScriptedModel([right], name="llm", kind="remote")
    with Run() as run:
        result = example.build_graph(slm, llm, threshold=0.4).invoke(
            {"question": example.CODE_EASY}
        )
    assert result["answered_by"] == "llm" and result["answer"] == right
    assert result["verdicts"][0]["judge"] == "docstring-examples"
    assert [r.node for r in run.ledger.records] == ["draft", "escalate"]  # no model judged


def test_arithmetic_is_recomputed_and_a_right_draft_stays_local() -> None:
    slm = ScriptedModel(["25% of 640 is 160."], name="slm", kind="local")
    llm = ScriptedModel([], name="llm", kind="remote")
    result = example.build_graph(slm, llm, threshold=0.4).invoke(
        {"question": "What is 25% of 640?"}
    )
    assert result["answered_by"] == "slm" and result["verdicts"][0]["judge"] == "arithmetic"
    assert llm.calls == []
