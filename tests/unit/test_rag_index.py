"""patterns.chunking and patterns.rag_index: chunks, hybrid search, saving, incremental adds."""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path

import pytest
from collab.patterns.chunking import chunk_text, split_sentences
from collab.patterns.rag_index import ChunkingConfig, RagIndex, bm25_ranking, bm25_scores

from collab import Run, ScriptedModel
from collab.errors import UserError


def bag_of_words(text: str) -> list[float]:
    """A deterministic embedding: word counts hashed into 32 buckets."""
    vector = [0.0] * 32
    for word in text.lower().split():
        vector[zlib.crc32(word.strip(".,?!").encode()) % 32] += 1.0
    return vector


def embedder() -> ScriptedModel:
    return ScriptedModel([], name="slm", kind="local", embeddings=bag_of_words)


DOCS = {
    "tower": "The Eiffel Tower was completed in 1889. It stands in Paris.",
    "dogs": "Dogs are loyal animals. They bark at strangers.",
    "tea": "Green tea is steeped at eighty degrees. Black tea takes boiling water.",
}


def test_sentences_split_at_ends_and_blank_lines() -> None:
    text = "One. Two?  Three!\n\nFour without end\nstill four"
    assert split_sentences(text) == ["One.", "Two?", "Three!", "Four without end\nstill four"]


def test_chunks_keep_sentences_whole_and_overlap() -> None:
    text = " ".join(f"Sentence {i} has five words." for i in range(6))
    chunks = chunk_text(text, doc_id="d", max_tokens=12, overlap_tokens=5)
    assert [c.id for c in chunks] == [f"d#{i}" for i in range(len(chunks))]
    assert all(len(c.text.split()) <= 12 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.text.startswith(before.text.split(". ")[-1].rstrip("."))  # the overlap
    assert "Sentence 0" in chunks[0].text and "Sentence 5" in chunks[-1].text


def test_a_sentence_longer_than_a_chunk_is_cut_by_words() -> None:
    chunks = chunk_text("word " * 25, doc_id="d", max_tokens=10, overlap_tokens=0)
    assert [len(c.text.split()) for c in chunks] == [10, 10, 5]


def test_chunking_refuses_an_overlap_as_large_as_the_chunk() -> None:
    with pytest.raises(UserError, match="overlap_tokens=10"):
        chunk_text("a b c.", doc_id="d", max_tokens=10, overlap_tokens=10)


def test_bm25_ranking_orders_the_texts_sharing_a_word_best_first() -> None:
    texts = list(DOCS.values())
    assert bm25_ranking(texts, "Which tea needs boiling water?") == [2]
    assert bm25_ranking(texts, "Paris tower or loyal dogs, tower") == [0, 1]
    assert bm25_ranking(texts, "quantum chromodynamics") == []
    assert bm25_ranking([], "tea") == []


def test_hybrid_search_ranks_the_matching_chunk_first() -> None:
    index = RagIndex(embedder=embedder())
    index.add(DOCS)
    hits = index.search("When was the Eiffel Tower completed?", k=2)
    assert hits[0].chunk.doc_id == "tower"
    assert hits[0].bm25_rank == 1 and hits[0].vector_rank == 1
    assert hits[0].score > hits[1].score and len(hits) == 2


def test_bm25_only_index_finds_only_chunks_sharing_a_term() -> None:
    index = RagIndex()
    index.add(DOCS)
    assert [h.chunk.doc_id for h in index.search("boiling water")] == ["tea"]
    assert index.search("zebra") == []
    assert index.search("the of and") == []  # stopwords only


def test_adding_documents_embeds_only_the_new_chunks() -> None:
    model = embedder()
    index = RagIndex(embedder=model)
    index.add({"tower": DOCS["tower"]})
    first = list(model.embedded)
    added = index.add({"tower": DOCS["tower"], "dogs": DOCS["dogs"]})  # tower unchanged
    assert [c.doc_id for c in added] == ["dogs"]
    assert model.embedded[len(first) :] == [DOCS["dogs"]]
    index.add({"dogs": "Dogs are loyal."})  # changed text: its chunks replaced
    assert model.embedded[-1] == "Dogs are loyal." and index.documents == {"tower": 1, "dogs": 1}
    assert [h.chunk.text for h in index.search("loyal dogs", k=1)] == ["Dogs are loyal."]


def test_embedding_calls_are_metered_by_the_active_run() -> None:
    index = RagIndex(embedder=embedder())
    with Run() as run:
        index.add(DOCS)
        index.search("tea")
    assert [r.model for r in run.ledger.records] == ["slm", "slm"]
    assert run.ledger.records[0].prompt_tokens > run.ledger.records[1].prompt_tokens > 0


def test_saved_index_loads_and_searches_without_reembedding(tmp_path: Path) -> None:
    index = RagIndex(embedder=embedder(), chunking=ChunkingConfig(max_tokens=8, overlap_tokens=2))
    index.add(DOCS)
    index.save(tmp_path / "idx")
    assert {p.name for p in (tmp_path / "idx").iterdir()} == {
        "chunks.json",
        "embeddings.npy",
        "bm25",
    }
    model = embedder()
    loaded = RagIndex.load(tmp_path / "idx", embedder=model)
    assert loaded.chunks == index.chunks and loaded.chunking.max_tokens == 8
    query = "Which tea needs boiling water?"
    assert [h.chunk.id for h in loaded.search(query)] == [h.chunk.id for h in index.search(query)]
    assert model.embedded == [query]  # only the query: the chunks' vectors were loaded
    loaded.add({"new": "Cats sleep most of the day."})
    assert model.embedded[1:] == ["Cats sleep most of the day."]
    loaded.save(tmp_path / "idx")
    assert RagIndex.load(tmp_path / "idx", embedder=model).documents["new"] == 1


def test_loading_with_another_embedder_is_refused(tmp_path: Path) -> None:
    RagIndex(embedder=embedder()).save(tmp_path)
    other = ScriptedModel([], name="other", embeddings=bag_of_words)
    with pytest.raises(UserError, match="embedded by 'slm', not 'other'"):
        RagIndex.load(tmp_path, embedder=other)
    with pytest.raises(UserError, match="holds no saved index"):
        RagIndex.load(tmp_path / "missing")


def test_removing_a_document_drops_its_chunks() -> None:
    index = RagIndex(embedder=embedder())
    index.add(DOCS)
    index.remove("tea")
    assert "tea" not in index.documents and len(index._vectors) == len(index)
    assert all(h.chunk.doc_id != "tea" for h in index.search("boiling water tea"))
    with pytest.raises(UserError, match="no document 'tea'"):
        index.remove("tea")


def test_a_missing_bm25s_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "bm25s", None)  # import bm25s now raises ImportError
    index = RagIndex()
    index.add(DOCS)
    with pytest.raises(UserError, match="needs the bm25s package"):
        index.search("tea")


def test_the_vector_ranking_weighs_less_than_bm25_and_the_weight_is_saved(tmp_path: Path) -> None:
    misleading = ScriptedModel(
        [],
        name="slm",
        kind="local",
        embeddings=lambda text: [1.0, 0.0] if "dogs" in text.lower() or "?" in text else [0, 1],
    )
    index = RagIndex(embedder=misleading)
    index.add(DOCS)
    query = "When was the Eiffel Tower completed?"
    [top] = index.search(query, k=1)
    assert top.chunk.doc_id == "tower" and top.vector_rank != 1  # BM25's first wins
    hit = {h.chunk.doc_id: h for h in index.search(query, k=3)}["tower"]
    assert hit.score == pytest.approx(1 / 61 + 0.25 / (60 + hit.vector_rank))
    index.vector_weight = 3.0
    dogs = {h.chunk.doc_id: h for h in index.search(query, k=3)}["dogs"]
    assert dogs.vector_rank == 1 and dogs.score == pytest.approx(3.0 / 61)
    index.save(tmp_path)
    assert RagIndex.load(tmp_path, embedder=misleading).vector_weight == 3.0


def test_one_character_words_are_terms_and_an_old_saved_bm25_is_rebuilt(tmp_path: Path) -> None:
    import json

    sections = {"s2": "Section 2 covers basic permissions.", "s7": "Section 7 covers terms."}
    index = RagIndex()
    index.add(sections)
    assert [h.chunk.doc_id for h in index.search("section 7", k=1)] == ["s7"]
    index.save(tmp_path)
    meta = json.loads((tmp_path / "chunks.json").read_text())
    meta.pop("token_pattern")  # as an index saved before one-character words counted
    (tmp_path / "chunks.json").write_text(json.dumps(meta))
    stale = RagIndex.load(tmp_path)
    assert [h.chunk.doc_id for h in stale.search("section 2", k=1)] == ["s2"]


def test_bm25_scores_give_each_text_its_score_zero_sharing_no_word() -> None:
    texts = ["Green tea brews at 80 degrees.", "Coffee beans", "Black tea needs boiling water."]
    scores = bm25_scores(texts, "Which tea needs boiling water?")
    assert len(scores) == 3 and scores[1] == 0.0
    assert scores[2] > scores[0] > 0.0
    assert bm25_scores(texts, "zebra crossing") == [0.0, 0.0, 0.0]
    assert bm25_scores([], "tea") == []
