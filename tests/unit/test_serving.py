"""Served patterns build their models and budget from configuration, and meter every run."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from collab import Budget, Run, ScriptedModel
from collab.errors import BudgetExceeded, UserError
from collab.graph import RUN_CONFIG_KEY
from collab.patterns import cascade, served
from collab.serving import served_budget, served_models


@pytest.fixture(autouse=True)
def _scripted_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLAB_SLM", "scripted:Paris.")
    monkeypatch.setenv("COLLAB_LLM", "scripted:It is Paris.")
    for name in ("USD", "CALLS", "REMOTE_TOKENS", "LOCAL_TOKENS", "WALL_S", "POLICY"):
        monkeypatch.delenv(f"COLLAB_BUDGET_{name}", raising=False)


def _configurable(**values: object) -> dict[str, object]:
    return {"configurable": values}


def test_a_client_budget_tightens_the_servers_and_never_loosens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLLAB_BUDGET_USD", "0.01")
    monkeypatch.setenv("COLLAB_BUDGET_POLICY", "degrade")
    assert served_budget() == Budget(usd=0.01, policy="degrade")
    looser = served_budget(_configurable(budget={"usd": 5.0, "calls": 3}))
    assert (looser.usd, looser.calls, looser.policy) == (0.01, 3, "degrade")
    tighter = served_budget(_configurable(budget={"usd": 0.001, "policy": "raise"}))
    assert (tighter.usd, tighter.policy) == (0.001, "raise")


@pytest.mark.parametrize(
    ("budget", "named"),
    [({"dollars": 1}, "dollars"), ([1, 2], "object of limits"), ({"usd": -1}, "usd")],
)
def test_a_bad_client_budget_names_what_is_wrong(budget: object, named: str) -> None:
    with pytest.raises(UserError, match=named):
        served_budget(_configurable(budget=budget))


def test_a_bad_server_budget_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLAB_BUDGET_CALLS", "many")
    with pytest.raises(UserError, match="COLLAB_BUDGET_CALLS='many'"):
        served_budget()


def test_models_are_opened_once_and_shared_by_runs() -> None:
    first, second = served_models(), served_models(_configurable(budget={"calls": 1}))
    assert first.slm is second.slm and first.llm is second.llm
    other = served_models(_configurable(llm="scripted:another"))
    assert other.llm is not first.llm and other.slm is first.slm
    assert (first.slm.kind, first.llm.kind) == ("local", "remote")


def test_each_served_run_has_its_own_budget_and_returns_its_calls() -> None:
    config = _configurable(budget={"calls": 3}, pattern={"threshold": 1.0})
    out = served.cascade(config).invoke({"question": "Capital of France?"})
    assert out["answer"] == "It is Paris." and out["escalated"] is True
    assert [c["node"] for c in out["collab_calls"]] == ["draft", "judge", "escalate"]
    again = served.cascade(config).invoke({"question": "And of Italy?"})  # a fresh budget
    assert len(again["collab_calls"]) == 3
    assert {c["run_id"] for c in again["collab_calls"]}.isdisjoint(
        {c["run_id"] for c in out["collab_calls"]}
    )
    with pytest.raises(BudgetExceeded):
        served.cascade(_configurable(budget={"calls": 2}, pattern={"threshold": 1.0})).invoke(
            {"question": "Capital of Spain?"}
        )


def test_pattern_options_are_validated() -> None:
    with pytest.raises(UserError, match="CascadeConfig"):
        served.cascade(_configurable(pattern={"threshold": 7}))
    with pytest.raises(UserError, match="no served pattern 'nope'"):
        served.serve("nope")


def test_a_run_given_in_the_config_counts_what_the_thread_already_paid_for() -> None:
    slm = ScriptedModel(["Rome."], name="slm", kind="local")
    llm = ScriptedModel([ConnectionError("down"), "It is Rome."], name="llm", kind="remote")
    graph = cascade.build(
        slm=slm, llm=llm, config=cascade.CascadeConfig(threshold=1.0), checkpointer=InMemorySaver()
    )
    thread = {"thread_id": "t"}

    def attempt(calls: int) -> object:
        run = Run(budget=Budget(calls=calls))
        config = {"configurable": {**thread, RUN_CONFIG_KEY: run}}
        return graph.invoke(None if graph.get_state(config).next else {"question": "Q?"}, config)

    with pytest.raises(ConnectionError):
        attempt(calls=3)  # draft and judge are saved; the escalation failed
    with pytest.raises(BudgetExceeded):
        attempt(calls=2)  # a new run on the thread starts from the 2 calls already made
    out = attempt(calls=3)
    assert out["answer"] == "It is Rome."  # type: ignore[index]
    assert [c["node"] for c in out["collab_calls"]] == ["draft", "judge", "escalate"]  # type: ignore[index]


def test_served_plan_execute_answers_even_when_the_plan_fails() -> None:
    out = served.plan_execute(_configurable(pattern={"max_replans": 0})).invoke(
        {"question": "What is 17 * 23?"}
    )  # the scripted LLM's "It is Paris." is no Plan: one failed plan, then the answer
    assert out["answer"] == "It is Paris."
    assert [c["node"] for c in out["collab_calls"]] == ["plan", "answer"]
    assert out["details"]["failure"].startswith("the plan is not a valid Plan")


def test_served_rag_answers_from_the_servers_saved_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collab.patterns.rag_index import RagIndex

    monkeypatch.delenv("COLLAB_RAG_INDEX", raising=False)
    with pytest.raises(UserError, match="COLLAB_RAG_INDEX"):
        served.rag(_configurable())
    index = RagIndex()  # BM25 alone: no embedder saved
    index.add({"tower": "The Eiffel Tower is in Paris. It was finished in 1889."})
    index.save(tmp_path / "index")
    monkeypatch.setenv("COLLAB_RAG_INDEX", str(tmp_path / "index"))
    out = served.rag(_configurable(budget={"calls": 10})).invoke(
        {"question": "Where is the Eiffel Tower?"}
    )
    assert out["answer"] and out["collab_calls"]
    assert any(c["kind"] == "remote" for c in out["collab_calls"])
