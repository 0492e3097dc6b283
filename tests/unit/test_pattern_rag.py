"""patterns.rag: retrieve, rerank, answer with citations, judge; every branch on scripted models."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from collab.patterns.rag import RagConfig, citations_in
from collab.patterns.rag_index import RagIndex
from langgraph.graph import END, START, StateGraph

from collab import Budget, Run, ScriptedModel
from collab.graph import ledger_of, merge_calls
from collab.patterns import rag
from tests.unit.test_rag_index import DOCS, bag_of_words

QUESTION = "When was the Eiffel Tower completed?"


def slm_judging(
    relevant: str = "Eiffel", grounded: float = 0.9, reply: str = "unused"
) -> ScriptedModel:
    """Reranks by whether the passage mentions ``relevant``; judges claims at ``grounded``."""

    def scores(prompt: str, options: list[str]) -> list[float]:
        if prompt.startswith("Passage:"):
            passage = prompt.split("\nQuestion:")[0]
            p = 0.9 if relevant in passage else 0.01
        else:
            p = grounded
        return [p, 1 - p]

    return ScriptedModel(
        lambda _: reply, name="slm", kind="local", embeddings=bag_of_words, scores=scores
    )


def llm_saying(answer: str = "It was completed in 1889 [1].") -> ScriptedModel:
    return ScriptedModel(lambda _: answer, name="llm", kind="remote", cost_per_token_usd=0.001)


def index_of(slm: ScriptedModel, docs: dict[str, str] = DOCS) -> RagIndex:
    index = RagIndex(embedder=slm)
    index.add(docs)
    return index


def test_only_the_relevant_passage_reaches_the_llm_and_is_cited() -> None:
    slm, llm = slm_judging(), llm_saying()
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm))
    assert (result.answer, result.answered_by, result.escalated) == (
        "It was completed in 1889 [1].",
        "llm",
        True,
    )
    sent = llm.calls[0][-1].content
    assert "[1] The Eiffel Tower was completed in 1889." in sent and "Dogs" not in sent
    details = result.details
    assert details["retrieved"][0] == "tower#0" and len(details["retrieved"]) == 3
    assert details["passages"] == ["tower#0"] and details["relevance"] == [0.9]
    assert details["citations"] == [{"n": 1, "chunk_id": "tower#0"}]
    assert details["invalid_citations"] == []
    assert details["remote_prompt_tokens"] < details["all_documents_prompt_tokens"]
    assert result.verdicts[0].judge == "grounded" and result.verdicts[0].passed
    assert [(r.node, r.role) for r in result.ledger.records] == [
        ("retrieve", "retriever"),
        *[("rerank", "reranker")] * 3,
        ("answer", "answerer"),
        ("judge", "judge"),
    ]


def test_the_passage_cap_keeps_the_most_relevant_first() -> None:
    slm, llm = slm_judging(relevant="tea"), llm_saying("Boiling [2].")
    config = RagConfig(passages=1, min_relevance=0.0)
    result = rag.run(
        "Which tea takes boiling water?", slm=slm, llm=llm, index=index_of(slm), config=config
    )
    assert result.details["passages"] == ["tea#0"]
    assert result.details["invalid_citations"] == [2] and result.details["citations"] == []


def test_nothing_relevant_answers_without_calling_the_llm() -> None:
    slm, llm = slm_judging(relevant="Zebra"), llm_saying()
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm))
    assert result.answer == RagConfig().not_found_answer and result.answered_by == "retriever"
    assert llm.calls == [] and not result.escalated and result.cost_usd == 0
    assert result.details["passages"] == [] and len(result.details["retrieved"]) == 3


def test_an_empty_index_answers_not_found_without_any_model_call() -> None:
    slm, llm = slm_judging(), llm_saying()
    result = rag.run(QUESTION, slm=slm, llm=llm, index=RagIndex(embedder=slm))
    assert result.answer == RagConfig().not_found_answer and result.ledger.records == []


def test_without_rerank_the_fused_order_is_kept_and_the_slm_scores_only_the_answer() -> None:
    slm, llm = slm_judging(), llm_saying()
    config = RagConfig(rerank=False, passages=2)
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm), config=config)
    assert result.details["passages"][0] == "tower#0" and len(result.details["passages"]) == 2
    assert result.details["relevance"] == [None, None]
    assert [r.node for r in result.ledger.records] == ["retrieve", "answer", "judge"]


def test_an_ungrounded_answer_is_flagged_by_default() -> None:
    slm, llm = slm_judging(grounded=0.2), llm_saying("It opened in 1925 [1].")
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm))
    assert result.answer == "It opened in 1925 [1]." and not result.verdicts[0].passed


def test_an_ungrounded_answer_is_withheld_when_asked_to_abstain() -> None:
    slm, llm = slm_judging(grounded=0.2), llm_saying("It opened in 1925 [1].")
    config = RagConfig(on_ungrounded="abstain")
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm), config=config)
    assert result.answer == config.not_found_answer
    assert result.details["withheld_answer"] == "It opened in 1925 [1]."
    assert result.answered_by == "llm" and not result.verdicts[0].passed


def test_a_grounded_answer_is_kept_when_asked_to_abstain() -> None:
    slm, llm = slm_judging(), llm_saying()
    config = RagConfig(on_ungrounded="abstain")
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm), config=config)
    assert (
        result.answer == "It was completed in 1889 [1]." and "withheld_answer" not in result.details
    )


def test_a_bm25_only_index_works_too() -> None:
    slm, llm = slm_judging(), llm_saying()
    index = RagIndex()
    index.add(DOCS)
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index)
    assert result.details["passages"] == ["tower#0"] and slm.embedded == []


def test_a_degraded_answer_call_is_answered_by_the_slm() -> None:
    slm, llm = slm_judging(reply="1889 [1]."), llm_saying()
    budget = Budget(usd=1e-9, policy="degrade")
    result = rag.run(QUESTION, slm=slm, llm=llm, index=index_of(slm), budget=budget)
    assert llm.calls == [] and result.degraded and result.answered_by == "slm"
    assert result.answer == "1889 [1]."


def test_arun_matches_run() -> None:
    slm, llm = slm_judging(), llm_saying()
    result = asyncio.run(rag.arun(QUESTION, slm=slm, llm=llm, index=index_of(slm)))
    assert result.details["citations"] == [{"n": 1, "chunk_id": "tower#0"}]
    assert [r.node for r in result.ledger.records][-2:] == ["answer", "judge"]


def test_citations_are_read_once_each_in_order() -> None:
    assert citations_in("A [2], b [1] and [2] again; not [x].") == [2, 1]


class Outer(TypedDict, total=False):
    question: str
    answer: str
    collab_calls: Annotated[list[dict[str, Any]], merge_calls]
    log: Annotated[list[str], operator.add]


def test_rag_works_as_a_subgraph_and_its_calls_reach_the_parent() -> None:
    slm, llm = slm_judging(), llm_saying()
    sub = rag.build(slm=slm, llm=llm, index=index_of(slm))
    graph = StateGraph(Outer)
    graph.add_node("rag", sub)
    graph.add_node("after", lambda s: {"log": [s["answer"]]})
    graph.add_edge(START, "rag")
    graph.add_edge("rag", "after")
    graph.add_edge("after", END)
    with Run() as run:
        out = graph.compile().invoke({"question": QUESTION})
    assert out["log"] == ["It was completed in 1889 [1]."]
    assert [r.model for r in ledger_of(out).records].count("llm") == 1
    assert ledger_of(out).records == run.ledger.records


def test_the_graph_drawn_matches_the_docs_page() -> None:
    from pathlib import Path

    slm = slm_judging()
    drawn = rag.build(slm=slm, llm=llm_saying(), index=RagIndex()).get_graph().draw_mermaid()
    page = (Path(__file__).resolve().parents[2] / "docs" / "patterns" / "rag.md").read_text()
    assert drawn.strip() in page
