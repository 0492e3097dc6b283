"""patterns.minions: LLM jobs, SLM workers per chunk, filtering, rounds (scripted models)."""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.minions import MinionsConfig, found_nothing
from langgraph.graph import END, START, StateGraph

from collab import Budget, Run, ScriptedModel
from collab.errors import InvalidOutputError
from collab.graph import ledger_of, merge_calls
from collab.patterns import minions
from collab.types import Message

FILLER = " ".join(f"Paragraph {i} describes routine matters of the office." for i in range(40))
DOCUMENT = f"{FILLER} The annual revenue was 42 million euros. {FILLER} The CEO is Ada Byrne."
CONFIG = MinionsConfig(chunk_tokens=60, overlap_tokens=0)


def plan(*jobs: tuple[str, list[int]]) -> str:
    return json.dumps({"jobs": [{"instruction": i, "chunks": c} for i, c in jobs]})


def aggregation(answer: str, *, done: bool = True, missing: str = "") -> str:
    return json.dumps({"done": done, "answer": answer, "missing": missing})


def llm_saying(*replies: str) -> ScriptedModel:
    return ScriptedModel(list(replies), name="llm", kind="remote", cost_per_token_usd=0.001)


def worker(facts: dict[str, tuple[str, str]]) -> ScriptedModel:
    """Replies with the fact whose key is in the excerpt and topic in the task, else NONE."""

    def reply(messages: list[Message]) -> str:
        excerpt, task = messages[-1].content.split("\n\nTask:")
        found = (f for key, (topic, f) in facts.items() if key in excerpt and topic in task)
        return next(found, "NONE")

    return ScriptedModel(reply, name="slm", kind="local")


FACTS = {
    "42 million": ("revenue", "Revenue: 42 million euros."),
    "Ada Byrne": ("CEO", "The CEO is Ada Byrne."),
}


def test_one_round_finds_the_fact_and_the_llm_never_sees_the_document() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the annual revenue", [])), aggregation("42 million euros"))
    result = minions.run(
        "What was the revenue?", document=DOCUMENT, slm=slm, llm=llm, config=CONFIG
    )
    assert (result.answer, result.answered_by, result.escalated) == (
        "42 million euros",
        "llm",
        True,
    )
    details = result.details
    assert details["rounds"] == 1 and details["complete"]
    assert details["worker_calls"] == details["chunks"] == len(slm.calls) > 5
    assert [f["output"] for f in details["findings"]] == ["Revenue: 42 million euros."]
    assert details["dropped"] == details["worker_calls"] - 1
    for call in llm.calls:  # what the LLM read: never the document's text
        assert all("routine matters" not in m.content for m in call)
    assert "Revenue: 42 million euros." in llm.calls[1][-1].content
    assert 0 < details["remote_tokens"] < details["baseline_remote_tokens"]
    assert details["remote_token_ratio"] == pytest.approx(
        details["remote_tokens"] / details["baseline_remote_tokens"]
    )
    remote = [r for r in result.ledger.records if r.kind == "remote"]
    assert details["remote_tokens"] == sum(r.prompt_tokens + r.completion_tokens for r in remote)
    roles = [r.role for r in result.ledger.records]
    assert roles[0] == "planner" and roles[-1] == "aggregator"
    assert set(roles[1:-1]) == {"worker"}


def test_jobs_run_only_on_the_chunks_they_name_and_unknown_numbers_are_ignored() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the CEO", [0, 2, 999]), ("Find the CEO", [2])), aggregation("?"))
    config = CONFIG.model_copy(update={"first_round_every_chunk": False})
    result = minions.run("Who is the CEO?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    assert result.details["worker_calls"] == 3  # job 1 on chunks 0 and 2, job 2 on chunk 2
    assert sorted(c[-1].content.count("Task: Find the CEO") for c in slm.calls) == [1, 1, 1]


def test_the_first_round_runs_on_every_chunk_whatever_the_llm_guessed() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the CEO", [0])), aggregation("Ada Byrne"))
    result = minions.run("Who is the CEO?", document=DOCUMENT, slm=slm, llm=llm, config=CONFIG)
    assert result.details["worker_calls"] == result.details["chunks"] > 1
    assert [f["output"] for f in result.details["findings"]] == ["The CEO is Ada Byrne."]


def test_chunks_per_job_runs_each_job_on_the_chunks_bm25_ranks_best() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the CEO", []), ("Find the annual revenue", [])), aggregation("?"))
    config = CONFIG.model_copy(update={"chunks_per_job": 1})
    result = minions.run("Who is the CEO?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    assert result.details["chunks"] > 2 and result.details["worker_calls"] == 2
    excerpts = {c[-1].content.split("Task: ")[1]: c[-1].content for c in slm.calls}
    assert "Ada Byrne" in excerpts["Find the CEO"]
    assert "42 million" in excerpts["Find the annual revenue"]
    assert sorted(f["output"] for f in result.details["findings"]) == [
        "Revenue: 42 million euros.",
        "The CEO is Ada Byrne.",
    ]


def test_a_job_sharing_no_word_with_any_chunk_still_runs_on_every_chunk() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Zyxw qvv", [])), aggregation("?"))
    config = CONFIG.model_copy(update={"chunks_per_job": 1})
    result = minions.run("Qqq?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    assert result.details["worker_calls"] == result.details["chunks"] > 2


@pytest.mark.parametrize("knob", ["chunks_per_job", "max_findings_tokens"])
@pytest.mark.parametrize("value", [0, -3])
def test_the_chunk_and_findings_caps_must_be_positive(knob: str, value: int) -> None:
    with pytest.raises(ValueError, match=knob):
        MinionsConfig(**{knob: value})


def test_a_second_round_is_planned_from_what_is_missing() -> None:
    slm = worker(FACTS)
    llm = llm_saying(
        plan(("Find the annual revenue", [])),
        aggregation("42 million euros; CEO unknown", done=False, missing="the CEO's name"),
        plan(("Find the name of the CEO", [])),
        aggregation("42 million euros; the CEO is Ada Byrne"),
    )
    question = "What was the revenue, and who is the CEO?"
    result = minions.run(question, document=DOCUMENT, slm=slm, llm=llm, config=CONFIG)
    assert result.answer == "42 million euros; the CEO is Ada Byrne"
    assert result.details["rounds"] == 2 and result.details["complete"]
    second_plan = llm.calls[2][-1].content
    assert "Missing: the CEO's name" in second_plan and "Revenue: 42 million euros." in second_plan
    assert {f["round"] for f in result.details["findings"]} == {1, 2}
    assert result.details["worker_calls"] == 2 * result.details["chunks"]


def test_rounds_stop_at_max_rounds_with_the_best_answer_so_far() -> None:
    slm = worker({})
    llm = llm_saying(
        plan(("Find the auditor", [])), aggregation("unknown", done=False, missing="auditor")
    )
    config = CONFIG.model_copy(update={"max_rounds": 1})
    result = minions.run("Who audits?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    assert result.answer == "unknown" and not result.details["complete"]
    assert result.details["findings"] == [] and len(llm.calls) == 2
    assert "This is the last round" in llm.calls[1][-1].content
    assert "(no assistant found anything)" in llm.calls[1][-1].content


def test_a_plan_with_no_jobs_goes_straight_to_aggregation() -> None:
    slm = worker(FACTS)
    llm = llm_saying(json.dumps({"jobs": []}), aggregation("I cannot tell."))
    result = minions.run("Anything?", document=DOCUMENT, slm=slm, llm=llm, config=CONFIG)
    assert result.answer == "I cannot tell." and slm.calls == []
    assert result.details["worker_calls"] == 0


def test_jobs_and_worker_calls_are_capped_per_round() -> None:
    slm = worker(FACTS)
    jobs = [(f"Job {i}", []) for i in range(6)]
    llm = llm_saying(plan(*jobs), aggregation("done"))
    config = CONFIG.model_copy(update={"max_jobs": 2, "max_tasks": 5})
    result = minions.run("Q?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    assert result.details["worker_calls"] == 5
    assert {c[-1].content.split("Task: ")[1] for c in slm.calls} <= {"Job 0", "Job 1"}


def test_an_invalid_plan_is_an_error_the_ledger_records() -> None:
    llm = llm_saying("not json")
    with Run() as run, pytest.raises(InvalidOutputError):
        minions.run("Q?", document=DOCUMENT, slm=worker({}), llm=llm, config=CONFIG)
    assert [(r.node, r.outcome) for r in run.ledger.records] == [("plan", "error")]


@pytest.mark.parametrize(
    ("output", "nothing"),
    [
        ("NONE", True),
        ("none.", True),
        ("  ", True),
        ("Not mentioned in the excerpt.", True),
        ("N/A", True),
        ("No relevant information.", True),
        ("Nonetheless the revenue was 42.", False),
        ("Revenue: 42 million.", False),
        ("Nothingham is the city.", False),
    ],
)
def test_found_nothing_reads_the_workers_refusals(output: str, nothing: bool) -> None:
    assert found_nothing(output) is nothing


def test_workers_run_in_parallel_under_ainvoke() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the revenue", [])), aggregation("42 million euros"))
    result = asyncio.run(
        minions.arun("Revenue?", document=DOCUMENT, slm=slm, llm=llm, config=CONFIG)
    )
    assert result.answer == "42 million euros"
    assert result.details["worker_calls"] == result.details["chunks"]


def test_a_degraded_aggregation_is_answered_by_the_slm() -> None:
    answers: Iterator[str] = iter([aggregation("the SLM's answer")])

    def reply(messages: list[Message]) -> str:
        if "Findings:" in messages[-1].content:
            return next(answers)
        return "NONE"

    slm = ScriptedModel(reply, name="slm", kind="local")
    planning = plan(("Find it", [0]))
    llm = llm_saying(planning, aggregation("unused"))
    # the plan's worst case (prompt + 30) fits in 200 remote tokens; the aggregation's
    # (prompt + 400) does not, so the budget's policy hands it to the SLM
    config = CONFIG.model_copy(update={"plan_max_tokens": 30, "aggregate_max_tokens": 400})
    budget = Budget(remote_tokens=200, policy="degrade")
    result = minions.run("Q?", document=DOCUMENT, slm=slm, llm=llm, config=config, budget=budget)
    assert result.answer == "the SLM's answer" and result.answered_by == "slm"
    assert result.degraded and len(llm.calls) == 1
    remote = [r for r in result.ledger.records if r.kind == "remote"]
    assert result.details["remote_tokens"] == sum(
        r.prompt_tokens + r.completion_tokens for r in remote
    )


class Outer(TypedDict, total=False):
    question: str
    document: str
    answer: str
    collab_calls: Annotated[list[dict[str, Any]], merge_calls]
    log: Annotated[list[str], operator.add]


def test_minions_works_as_a_subgraph_and_its_calls_reach_the_parent() -> None:
    slm = worker(FACTS)
    llm = llm_saying(plan(("Find the revenue", [])), aggregation("42 million euros"))
    graph = StateGraph(Outer)
    graph.add_node("minions", minions.build(slm=slm, llm=llm, config=CONFIG))
    graph.add_node("after", lambda s: {"log": [s["answer"]]})
    graph.add_edge(START, "minions")
    graph.add_edge("minions", "after")
    graph.add_edge("after", END)
    with Run() as run:
        out = graph.compile().invoke({"question": "Revenue?", "document": DOCUMENT})
    assert out["log"] == ["42 million euros"]
    # The workers run in parallel: the same records, in the order each side saw them finish.
    by_id = lambda records: sorted(records, key=lambda r: r.call_id)  # noqa: E731
    assert by_id(ledger_of(out).records) == by_id(run.ledger.records)
    assert [r.model for r in run.ledger.records].count("slm") == len(slm.calls)


def test_the_graph_drawn_matches_the_docs_page() -> None:
    drawn = minions.build(slm=worker({}), llm=llm_saying()).get_graph().draw_mermaid()
    page = Path(__file__).resolve().parents[2] / "docs" / "patterns" / "minions.md"
    assert drawn.strip() in page.read_text(encoding="utf-8")


def test_the_llm_reads_each_finding_once_and_at_most_max_findings() -> None:
    def lines_read(reply: str, max_findings: int) -> tuple[list[str], int]:
        slm = ScriptedModel(lambda m: reply or m[-1].content[:40], name="slm", kind="local")
        llm = llm_saying(plan(("Find facts", [])), aggregation("ok"))
        config = CONFIG.model_copy(update={"max_findings": max_findings})
        result = minions.run("Q?", document=DOCUMENT, slm=slm, llm=llm, config=config)
        read = llm.calls[1][-1].content.splitlines()
        return [line for line in read if line.startswith("- round")], len(
            result.details["findings"]
        )

    repeated, kept = lines_read("Same fact.", 48)
    assert len(repeated) == 1 and kept > 5  # every chunk said it; the LLM reads it once
    distinct, kept = lines_read("", 3)  # each worker echoes its own excerpt: all distinct
    assert len(distinct) == 3 and kept > 3
    assert distinct[-1].split(", chunk ")[1].startswith(str(kept - 1))  # the latest ones


def test_the_findings_the_llm_reads_fit_max_findings_tokens_the_latest_kept() -> None:
    slm = ScriptedModel(lambda m: f"{m[-1].content[:30]} " + "word " * 40, name="slm")
    llm = llm_saying(plan(("Find facts", [])), aggregation("ok"))
    config = CONFIG.model_copy(update={"max_findings_tokens": 200})
    result = minions.run("Q?", document=DOCUMENT, slm=slm, llm=llm, config=config)
    found = result.details["findings"]
    read = [line for line in llm.calls[1][-1].content.splitlines() if line.startswith("- ")]
    assert len(found) > 5 and 1 < len(read) < len(found)
    assert sum(len(line.split()) for line in read) <= 200  # the scripted LLM counts words
    assert read[-1].split(", chunk ")[1].startswith(str(found[-1]["chunk"]))


def test_with_quotes_only_findings_whose_words_are_in_their_chunk_reach_the_llm() -> None:
    def reply(messages: list[Message]) -> str:
        assert '"quote"' in messages[0].content  # the quoting prompt
        excerpt = messages[-1].content.split("\n\nTask:")[0]
        if "42 million" in excerpt:
            found = {"quote": "the annual revenue was 42 million euros", "answer": "42 million"}
        elif "Ada Byrne" in excerpt:  # an invented quote: not in this chunk
            found = {"quote": "revenue reached 50 million euros", "answer": "50 million euros"}
        elif "Paragraph 3 " in excerpt:  # cut off before its JSON closed
            return '{"quote": "Paragraph 3 describes'
        else:
            found = {"quote": "", "answer": "NONE"}
        return json.dumps(found)

    slm = ScriptedModel(reply, name="slm", kind="local")
    llm = llm_saying(plan(("Find the annual revenue", [])), aggregation("42 million euros"))
    config = CONFIG.model_copy(update={"quotes": True})
    result = minions.run(
        "What was the revenue?", document=DOCUMENT, slm=slm, llm=llm, config=config
    )
    details = result.details
    assert details["unquoted"] == 1
    assert details["findings"] and all("42 million" in f["raw"] for f in details["findings"])
    aggregate_prompt = llm.calls[-1][-1].content
    assert 'the excerpt says: "the annual revenue was 42 million euros"' in aggregate_prompt
    assert "50 million" not in aggregate_prompt


def test_without_quotes_an_unchecked_finding_still_reaches_the_llm() -> None:
    slm = ScriptedModel(
        lambda m: "Revenue reached 50 million." if "Ada" in m[-1].content else "NONE",
        name="slm",
        kind="local",
    )
    llm = llm_saying(plan(("Find the annual revenue", [])), aggregation("50 million"))
    result = minions.run(
        "What was the revenue?", document=DOCUMENT, slm=slm, llm=llm, config=CONFIG
    )
    assert result.details["unquoted"] == 0
    assert "50 million" in llm.calls[-1][-1].content
