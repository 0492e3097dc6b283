"""RAG on device: the SLM retrieves and reranks, the LLM answers from a few passages and cites them.

The question is searched in a ``RagIndex`` (BM25 and SLM embeddings fused by reciprocal rank);
the SLM reranks the candidates by its probability that each one helps answer the question
(``score``, read from its logits); only the best ``passages`` go to the LLM, numbered, and the
LLM answers citing them as [1], [2]; the SLM's ``GroundednessJudge`` then checks each claim of
the answer against those passages. When nothing relevant is found the LLM is not called. The
result says which chunks were retrieved and sent, the citations, and the remote prompt tokens
against those of sending every document. Retrieval-augmented generation after Lewis et al.
(2020); hybrid retrieval with reciprocal rank fusion (Cormack et al., 2009); an LLM reranker
scored by P("yes") as in Nogueira et al. (2020, monoT5).

    index = RagIndex(embedder=slm); index.add({"manual": text})
    result = patterns.rag.run("How do I reset it?", slm=slm, llm=llm, index=index)
    result.answer, result.details["citations"], result.details["all_documents_prompt_tokens"]
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, Unpack

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.limits import Budget
from collab.budget.metered import estimated_prompt_tokens, metered
from collab.budget.run import Run
from collab.graph import LedgerState, node
from collab.models.base import Model

from .answer_judges import AnswerJudge, GroundednessJudge, numbered_sources
from .common import CompileOptions, PatternResult, arun_graph, as_state, run_graph
from .rag_index import RagIndex
from .state_schemas import QuestionInput

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["RagConfig", "RagState", "arun", "build", "citations_in", "run"]


class RagConfig(BaseModel):
    """The knobs of RAG."""

    model_config = ConfigDict(frozen=True)

    candidates: int = Field(default=8, gt=0)
    """How many chunks hybrid search hands to the reranker."""
    passages: int = Field(default=3, gt=0)
    """How many of the reranked chunks go to the LLM."""
    rerank: bool = True
    """Rerank the candidates with the SLM (else keep the fused order)."""
    min_relevance: float = Field(default=0.05, ge=0.0, le=1.0)
    """Drop passages the reranker gives a lower P(relevant); none left: no LLM call."""
    rerank_prompt: str = (
        "Passage: {passage}\nQuestion: {question}\n"
        "Does the passage help answer the question? Answer yes or no.\nAnswer:"
    )
    system: str = (
        "Answer the question in a full sentence, using only the numbered passages, and cite "
        "the passages you use by number after the words they support, like [1]. If the "
        "passages do not contain the answer, say you do not know."
    )
    """(A bare "cite them, like [1]" made Qwen2.5-Coder-1.5B answer "[3]" and nothing else to
    a quarter of the long-document benchmark's questions.)"""
    answer_max_tokens: int = Field(default=256, gt=0)
    judge_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """The groundedness judge's pass mark (P(claim is supported), weakest claim)."""
    on_ungrounded: Literal["flag", "abstain"] = "flag"
    """An answer the judge fails: keep it (its verdict says it failed), or withhold it and
    answer ``not_found_answer`` (the withheld answer stays in ``details``)."""
    not_found_answer: str = "The documents do not contain the answer."


class RagState(LedgerState, total=False):
    """RAG's state: ``question`` in, ``answer`` out; hits and passages as plain dicts."""

    question: str
    hits: list[dict[str, Any]]
    """Hybrid search's candidates: chunk id, text, fused score and ranks."""
    passages: list[dict[str, Any]]
    """The candidates kept for the LLM, numbered from 1 in this order, with ``relevance``."""
    answer: str
    answered_by: str
    escalated: bool
    verdicts: list[dict[str, Any]]
    details: dict[str, Any]


_CITATION = re.compile(r"\[(\d+)\]")


def citations_in(answer: str) -> list[int]:
    """The passage numbers ``answer`` cites ("[2]"), each once, in order of first citation."""
    return list(dict.fromkeys(int(n) for n in _CITATION.findall(answer)))


def build(
    *,
    slm: Model,
    llm: Model,
    index: RagIndex,
    config: RagConfig | None = None,
    judge: AnswerJudge | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """RAG as a compiled LangGraph graph: retrieve -> rerank -> answer -> judge.

    ``index`` is searched as it is at each invocation (add documents between questions);
    ``judge`` replaces the SLM's ``GroundednessJudge``. ``compile_options`` go to LangGraph's
    ``compile``; a budget belongs to one invocation (``run(budget=)`` or the enclosing run).
    """
    config = config or RagConfig()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run
    grounded = judge or GroundednessJudge(model=slm, threshold=config.judge_threshold)

    @node(role="retriever")
    def retrieve(state: RagState) -> RagState:
        hits = index.search(state["question"], k=config.candidates)
        return {
            "hits": [
                {
                    "id": h.chunk.id,
                    "text": h.chunk.text,
                    "score": h.score,
                    "bm25_rank": h.bm25_rank,
                    "vector_rank": h.vector_rank,
                }
                for h in hits
            ]
        }

    @node(role="reranker")
    def rerank(state: RagState) -> RagState:
        hits = state["hits"]
        if not config.rerank:
            return {"passages": [{**h, "relevance": None} for h in hits[: config.passages]]}
        scored = []
        for position, hit in enumerate(hits):
            prompt = config.rerank_prompt.format(passage=hit["text"], question=state["question"])
            yes, _no = slm.score(prompt, ["yes", "no"])
            scored.append((float(yes), position, hit))
        scored.sort(key=lambda item: (-item[0], item[1]))
        kept = [{**hit, "relevance": p} for p, _, hit in scored if p >= config.min_relevance][
            : config.passages
        ]
        return {"passages": kept}

    @node(role="answerer")
    def answer(state: RagState) -> RagState:
        passages = state["passages"]
        messages = _messages(config, state["question"], [p["text"] for p in passages])
        done = llm.complete(messages, max_tokens=config.answer_max_tokens)
        text = done.text.strip()
        cited = citations_in(text)
        everything = _messages(config, state["question"], index.texts())
        count = estimated_prompt_tokens  # the LLM's own tokenizer, no call, no margin
        return {
            "answer": text,
            "answered_by": done.model,
            "escalated": True,
            "details": {
                **_retrieval_details(state),
                "citations": [
                    {"n": n, "chunk_id": passages[n - 1]["id"]}
                    for n in cited
                    if 1 <= n <= len(passages)
                ],
                "invalid_citations": [n for n in cited if not 1 <= n <= len(passages)],
                "remote_prompt_tokens": count(messages)(llm),
                "all_documents_prompt_tokens": count(everything)(llm),
            },
        }

    @node(role="judge")
    def judge_answer(state: RagState) -> RagState:
        verdict = grounded(
            state["question"], state["answer"], [p["text"] for p in state["passages"]]
        )
        return {"verdicts": as_state([verdict])}

    def abstain(state: RagState) -> RagState:
        return {
            "answer": config.not_found_answer,
            "details": {**state["details"], "withheld_answer": state["answer"]},
        }

    def not_found(state: RagState) -> RagState:
        return {
            "answer": config.not_found_answer,
            "answered_by": "retriever",
            "escalated": False,
            "details": {**_retrieval_details(state), "citations": [], "invalid_citations": []},
        }

    def after_retrieve(state: RagState) -> str:
        return "rerank" if state["hits"] else "not_found"

    def after_rerank(state: RagState) -> str:
        return "answer" if state["passages"] else "not_found"

    def after_judge(state: RagState) -> str:
        passed = all(v["passed"] for v in state["verdicts"])
        return "abstain" if config.on_ungrounded == "abstain" and not passed else "done"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(RagState, input_schema=QuestionInput)
    graph.add_node("retrieve", retrieve)
    graph.add_node("rerank", rerank)
    graph.add_node("answer", answer)
    graph.add_node("judge", judge_answer)
    graph.add_node("abstain", abstain)
    graph.add_node("not_found", not_found)
    graph.add_edge(START, "retrieve")
    graph.add_conditional_edges("retrieve", after_retrieve, ["rerank", "not_found"])
    graph.add_conditional_edges("rerank", after_rerank, ["answer", "not_found"])
    graph.add_edge("answer", "judge")
    graph.add_conditional_edges("judge", after_judge, {"abstain": "abstain", "done": END})
    graph.add_edge("abstain", END)
    graph.add_edge("not_found", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    slm: Model,
    llm: Model,
    index: RagIndex,
    config: RagConfig | None = None,
    judge: AnswerJudge | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question from ``index`` in its own metered run (or in ``run``)."""
    graph = build(slm=slm, llm=llm, index=index, config=config, judge=judge)
    return run_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    slm: Model,
    llm: Model,
    index: RagIndex,
    config: RagConfig | None = None,
    judge: AnswerJudge | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, index=index, config=config, judge=judge)
    return await arun_graph(graph, {"question": question}, run=run, budget=budget, slm=slm, llm=llm)


def _messages(config: RagConfig, question: str, passages: list[str]) -> list[dict[str, str]]:
    user = f"Passages:\n{numbered_sources(passages)}\n\nQuestion: {question}"
    return [{"role": "system", "content": config.system}, {"role": "user", "content": user}]


def _retrieval_details(state: RagState) -> dict[str, Any]:
    return {
        "retrieved": [h["id"] for h in state.get("hits", [])],
        "passages": [p["id"] for p in state.get("passages", [])],
        "relevance": [p["relevance"] for p in state.get("passages", [])],
    }
