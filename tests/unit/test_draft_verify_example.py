"""The draft-verify example's graph: the LLM accepts a right draft in a word, or corrects it."""

from __future__ import annotations

from collab.patterns.common import result_from

from collab import Budget, Run, ScriptedModel
from collab.cli.run_cmd import load_example

example = load_example("draft_verify")


def slm(draft: str = "Paris is the capital of France.") -> ScriptedModel:
    return ScriptedModel(lambda _: draft, name="slm", kind="local")


def llm(reply: str) -> ScriptedModel:
    return ScriptedModel(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)


def test_an_accepted_draft_is_the_answer_and_saves_llm_tokens() -> None:
    remote = llm("ACCEPT")
    with Run() as run:
        out = example.build_graph(slm(), remote).invoke({"question": "Capital of France?"})
    result = result_from(out)
    assert (result.answer, result.answered_by) == ("Paris is the capital of France.", "slm")
    assert result.details["verdict"] == "accepted" and not result.escalated
    assert result.details["llm_tokens_saved"] == 6 - 1  # the draft's words minus "ACCEPT"
    assert [(r.node, r.model) for r in run.ledger.records] == [("draft", "slm"), ("verify", "llm")]
    asked = remote.calls[0][-1].content
    assert "Capital of France?" in asked and "Paris is the capital of France." in asked


def test_a_wrong_draft_is_corrected_by_the_llm() -> None:
    out = example.build_graph(slm("421"), llm("391")).invoke({"question": "17 x 23?"})
    result = result_from(out)
    assert (result.answer, result.answered_by, result.escalated) == ("391", "llm", True)
    assert result.details["verdict"] == "corrected" and result.details["llm_tokens_saved"] == 0


def test_an_exhausted_budget_keeps_the_draft_unverified() -> None:
    local = ScriptedModel(["421", "whatever"], name="slm", kind="local")
    remote = llm("391")
    with Run(budget=Budget(usd=0.0, policy="degrade"), local_model=local, remote_model=remote):
        out = example.build_graph(local, remote).invoke({"question": "17 x 23?"})
    assert remote.calls == []
    assert (out["answer"], out["details"]["verdict"]) == ("421", "unverified")


def test_the_draft_is_cut_at_the_examples_48_tokens() -> None:
    long_draft = " ".join(f"w{i}" for i in range(60))
    out = example.build_graph(slm(long_draft), llm("ACCEPT")).invoke({"question": "Q?"})
    assert len(out["draft"].split()) == 48


def test_the_verdicts_table_shows_each_question() -> None:
    out = example.build_graph(slm("421"), llm("391")).invoke({"question": "17 x 23?"})
    table = example.verdicts_table([("17 x 23?", result_from(out))])
    assert table.row_count == 1
