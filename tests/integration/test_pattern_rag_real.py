"""patterns.rag on the real SmolLM2 (embedder, reranker, judge) and the real embedded server."""

from __future__ import annotations

from pathlib import Path

import pytest
from collab.patterns.rag import RagConfig
from collab.patterns.rag_index import RagIndex

from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.patterns import rag

pytestmark = pytest.mark.integration

DOCS = {
    "tower": "The Eiffel Tower was completed in 1889. It stands on the Champ de Mars in Paris.",
    "bridge": "The Golden Gate Bridge opened in 1937. It spans the strait into San Francisco Bay.",
    "canal": "The Panama Canal opened in 1914. Ships cross it through three sets of locks.",
    "tea": "Green tea is steeped at about eighty degrees Celsius for two minutes.",
}


def test_rag_retrieves_the_right_passage_and_the_llm_answers_from_it(
    smollm2: LocalModel, embedded: EmbeddedServer, tmp_path: Path
) -> None:
    index = RagIndex(embedder=smollm2)
    index.add(DOCS)
    question = "When was the Golden Gate Bridge opened?"
    hits = index.search(question, k=4)
    assert hits[0].chunk.doc_id == "bridge" and all(h.vector_rank for h in hits)

    loaded = RagIndex.load(index.save(tmp_path / "idx"), embedder=smollm2)
    assert [h.chunk.id for h in loaded.search(question, k=4)] == [h.chunk.id for h in hits]

    llm = embedded.remote_model()
    # SmolLM2-135M's reranker is weak (here it put tower and tea above bridge): the LLM gets
    # the hybrid search's best passage; the reranker is checked for probabilities only.
    config = RagConfig(passages=1, rerank=False, answer_max_tokens=32)
    result = rag.run(question, slm=smollm2, llm=llm, index=loaded, config=config)
    assert result.escalated and result.answered_by == llm.name and result.answer
    assert result.details["passages"] == ["bridge#0"]
    assert 0.0 < result.verdicts[0].probability < 1.0
    kinds = [(r.node, r.kind) for r in result.ledger.records]
    assert kinds[:2] == [("retrieve", "local"), ("answer", "remote")]
    assert kinds[2:] and set(kinds[2:]) == {("judge", "local")}  # a call per claim
    assert result.details["remote_prompt_tokens"] < result.details["all_documents_prompt_tokens"]

    probabilities = [
        smollm2.score(
            RagConfig().rerank_prompt.format(passage=h.chunk.text, question=question), ["yes", "no"]
        )[0]
        for h in hits
    ]
    assert all(0.0 < p < 1.0 for p in probabilities)
