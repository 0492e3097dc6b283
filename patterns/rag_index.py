"""An on-device retrieval index: BM25 and SLM embeddings over chunks, fused by rank, on disk.

    index = RagIndex(embedder=slm)                 # any model with ``embed``; None: BM25 only
    index.add({"manual": text, "faq": other})      # chunks and embeds only what is new
    hits = index.search("How do I reset it?", k=8)
    index.save("my-index"); index = RagIndex.load("my-index", embedder=slm)

Lexical scores come from ``bm25s`` (Lù, 2024; BM25 by Robertson et al.), dense ones from the
cosine of the embedder's mean-pooled vectors; the two rankings are fused by weighted
reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): ``sum(weight / (rrf_k + rank))``
over the rankings a chunk appears in, so neither score's scale matters. A chunk with no query
term and (with no embedder) no vector is not a hit.

The vector ranking weighs ``VECTOR_WEIGHT`` (0.25) against BM25's 1: a small chat model's
mean-pooled states are a weak retriever. On the long-document benchmark's 53 questions over
three licences (``bench/long_doc_qa.py``), SmolLM2-135M's vectors alone put the answer in
the top 3 chunks for 4, BM25 for 24, equal-weight fusion for 12, and fusion at 0.25 for 22
(top 8: 11, 32, 25 and 32). BM25 counts one-character words (``TOKEN_PATTERN``): with them,
BM25 alone puts the answer in the top 3 for 28 (the questions name sections by number), fusion
at 0.25 for 23. Set ``vector_weight`` higher for a real embedding model, 0 for BM25 alone.

Adding documents embeds only their chunks; a document added again with new text replaces its
chunks (and embeds those), with the same text it costs nothing. BM25's statistics cover the
whole corpus, so its (cheap, model-free) index is rebuilt on the next search after a change.
The folder holds ``chunks.json`` (documents, chunks, chunking, the embedder's name),
``embeddings.npy``
and ``bm25/`` (``bm25s``' own save).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.metered import metered
from collab.errors import UserError
from collab.models.base import Model

from .chunking import Chunk, chunk_text

if TYPE_CHECKING:
    import bm25s
    import numpy as np

__all__ = ["ChunkingConfig", "Embedder", "Hit", "RagIndex", "bm25_ranking", "bm25_scores"]

_CHUNKS_FILE = "chunks.json"
_VECTORS_FILE = "embeddings.npy"
_BM25_DIR = "bm25"


class Embedder(Protocol):
    """A model that embeds texts (``LocalModel``; ``ScriptedModel(embeddings=...)``)."""

    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


class ChunkingConfig(BaseModel):
    """How documents are cut (see ``patterns.chunking``)."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int = Field(default=120, gt=0)
    """A chunk's limit in the embedder's tokens (words without an embedder)."""
    overlap_tokens: int = Field(default=24, ge=0)
    """How much of the end of a chunk the next one repeats."""


class Hit(BaseModel):
    """A chunk the index found for a query, with its fused score and the ranks behind it."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    score: float
    """Reciprocal rank fusion score (higher is better)."""
    bm25_rank: int | None = None
    """Rank (from 1) among BM25 matches; ``None``: no query term in the chunk."""
    vector_rank: int | None = None
    """Rank (from 1) by embedding cosine; ``None`` with no embedder."""


VECTOR_WEIGHT = 0.25
"""The default weight of the vector ranking in the fusion (see the module doc)."""
TOKEN_PATTERN = r"(?u)\b\w+\b"
"""BM25's words: runs of word characters, single ones too, so that the "2" of "section 2" or
"version 3" is a term (``bm25s``' default drops one-character words)."""


class RagIndex:
    """Chunks of documents, searchable by BM25 and embeddings (see the module doc)."""

    def __init__(
        self,
        *,
        embedder: Embedder | None = None,
        chunking: ChunkingConfig | None = None,
        rrf_k: int = 60,
        vector_weight: float = VECTOR_WEIGHT,
    ) -> None:
        self.embedder = embedder
        self.chunking = chunking or ChunkingConfig()
        self.rrf_k = rrf_k
        self.vector_weight = vector_weight
        """The vector ranking's weight in the fusion (BM25's is 1)."""
        self.chunks: list[Chunk] = []
        self._texts: dict[str, str] = {}
        self._vectors: list[list[float]] = []
        self._bm25: bm25s.BM25 | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def documents(self) -> dict[str, int]:
        """Each document's id and its number of chunks."""
        counts: dict[str, int] = {}
        for chunk in self.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        return counts

    def texts(self) -> list[str]:
        """Every document's whole text, in the order added (what "send it all" would send)."""
        return list(self._texts.values())

    def add(self, documents: Mapping[str, str]) -> list[Chunk]:
        """Index ``{doc_id: text}``; returns the chunks that were new (and embedded)."""
        added: list[Chunk] = []
        for doc_id, text in documents.items():
            if self._texts.get(doc_id) == text:
                continue
            self._drop(doc_id)
            count = self.embedder.count_tokens if self.embedder is not None else None
            added += chunk_text(
                text,
                doc_id=doc_id,
                max_tokens=self.chunking.max_tokens,
                overlap_tokens=self.chunking.overlap_tokens,
                count_tokens=count,
            )
            self._texts[doc_id] = text
        if added:
            self._vectors += self._embed([c.text for c in added])
            self.chunks += added
            self._bm25 = None
        return added

    def remove(self, doc_id: str) -> None:
        """Drop a document's chunks (no model call)."""
        if doc_id not in self._texts:
            raise UserError(f"no document {doc_id!r} in the index", hint=f"it has {self.documents}")
        self._drop(doc_id)
        del self._texts[doc_id]
        self._bm25 = None

    def search(self, query: str, *, k: int = 8) -> list[Hit]:
        """The ``k`` best chunks for ``query`` by reciprocal rank fusion, best first."""
        if not self.chunks:
            return []
        rankings = {
            "bm25": (self._bm25_ranking(query), 1.0),
            "vector": (self._vector_ranking(query), self.vector_weight),
        }
        fused: dict[int, dict[str, Any]] = {}
        for name, (ranking, weight) in rankings.items():
            for rank, position in enumerate(ranking, start=1):
                entry = fused.setdefault(position, {"score": 0.0})
                entry["score"] += weight / (self.rrf_k + rank)
                entry[f"{name}_rank"] = rank
        best = sorted(fused.items(), key=lambda item: (-item[1]["score"], item[0]))[:k]
        return [Hit(chunk=self.chunks[position], **entry) for position, entry in best]

    # -- persistence ---------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` (created; its index files replaced)."""
        import numpy as np

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "embedder": self.embedder.name if self.embedder is not None else None,
            "chunking": self.chunking.model_dump(),
            "rrf_k": self.rrf_k,
            "vector_weight": self.vector_weight,
            "token_pattern": TOKEN_PATTERN,
            "documents": self._texts,
            "chunks": [c.model_dump() for c in self.chunks],
        }
        (folder / _CHUNKS_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        np.save(folder / _VECTORS_FILE, self._matrix())
        if self.chunks:
            self._retriever().save(str(folder / _BM25_DIR))
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, embedder: Embedder | None = None) -> RagIndex:
        """An index saved by ``save``; ``embedder`` must be the model that embedded it."""
        import numpy as np

        lib = _bm25s()
        folder = Path(folder)
        meta_file = folder / _CHUNKS_FILE
        if not meta_file.is_file():
            raise UserError(
                f"{folder} holds no saved index ({_CHUNKS_FILE} is missing)",
                hint="build one with RagIndex(...).add(documents) and .save(folder)",
            )
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        name = embedder.name if embedder is not None else None
        if meta["embedder"] != name:
            raise UserError(
                f"the index in {folder} was embedded by {meta['embedder']!r}, not {name!r}",
                hint="load it with the model that built it, or build a new index",
            )
        index = cls(
            embedder=embedder,
            chunking=ChunkingConfig(**meta["chunking"]),
            rrf_k=meta["rrf_k"],
            vector_weight=meta.get("vector_weight", VECTOR_WEIGHT),
        )
        index.chunks = [Chunk.model_validate(c) for c in meta["chunks"]]
        index._texts = dict(meta["documents"])
        if embedder is not None:
            index._vectors = np.load(folder / _VECTORS_FILE).tolist()
        if index.chunks and meta.get("token_pattern") == TOKEN_PATTERN:
            index._bm25 = lib.BM25.load(str(folder / _BM25_DIR))
        return index  # BM25 saved with other words than today's is rebuilt on first search

    # -- internals -----------------------------------------------------------------------

    def _drop(self, doc_id: str) -> None:
        keep = [i for i, c in enumerate(self.chunks) if c.doc_id != doc_id]
        if len(keep) < len(self.chunks):
            self.chunks = [self.chunks[i] for i in keep]
            if self._vectors:
                self._vectors = [self._vectors[i] for i in keep]

    def _embed(self, texts: list[str]) -> list[list[float]]:
        if self.embedder is None:
            return []
        embedder = metered(self.embedder) if isinstance(self.embedder, Model) else self.embedder
        return [list(map(float, v)) for v in embedder.embed(texts)]

    def _matrix(self) -> np.ndarray:
        import numpy as np

        if not self._vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self._vectors, dtype=np.float32)

    def _retriever(self) -> bm25s.BM25:
        if self._bm25 is None:
            lib = _bm25s()
            tokens = _tokenize([c.text for c in self.chunks])
            self._bm25 = lib.BM25()
            self._bm25.index(tokens, show_progress=False)
        return self._bm25

    def _bm25_ranking(self, query: str) -> list[int]:
        return _ranking(self._retriever(), query)

    def _vector_ranking(self, query: str) -> list[int]:
        if self.embedder is None or not self._vectors:
            return []
        import numpy as np

        [vector] = self._embed([query])
        matrix = self._matrix()
        q = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
        cosine = matrix @ q / np.where(norms == 0, 1.0, norms)
        return [int(i) for i in np.argsort(-cosine, kind="stable")]


def bm25_ranking(texts: Sequence[str], query: str) -> list[int]:
    """Indexes of the ``texts`` that share a word with ``query``, best BM25 score first (a
    one-off index, scored the way ``RagIndex`` scores its chunks)."""
    if not texts:
        return []
    return _ranking(_one_off(texts), query)


def bm25_scores(texts: Sequence[str], query: str) -> list[float]:
    """Each of the ``texts``' BM25 score for ``query`` (0 sharing no word with it), on a
    one-off index scored the way ``RagIndex`` scores its chunks."""
    if not texts:
        return []
    return [float(s) for s in _scores(_one_off(texts), query)]


def _one_off(texts: Sequence[str]) -> bm25s.BM25:
    retriever = _bm25s().BM25()
    retriever.index(_tokenize(list(texts)), show_progress=False)
    return retriever


def _ranking(retriever: bm25s.BM25, query: str) -> list[int]:
    import numpy as np

    scores = _scores(retriever, query)
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order if scores[i] > 0]


def _scores(retriever: bm25s.BM25, query: str) -> np.ndarray:
    import numpy as np

    [words] = _tokenize([query], return_ids=False)
    known = [w for w in words if w in retriever.vocab_dict]
    if not known:
        return np.zeros(int(retriever.scores["num_docs"]))
    return np.asarray(retriever.get_scores(known))


def _tokenize(texts: list[str], **options: Any) -> Any:
    """``bm25s``' tokens of ``texts``, the same way for the index and its queries."""
    return _bm25s().tokenize(
        texts, stopwords="en", token_pattern=TOKEN_PATTERN, show_progress=False, **options
    )


def _bm25s() -> Any:
    """The ``bm25s`` module, or an error saying how to install it."""
    try:
        import bm25s
    except ImportError:
        raise UserError(
            "the RAG index needs the bm25s package, which is not installed",
            hint="pip install 'collab[rag]' (or pip install bm25s)",
        ) from None
    return bm25s
