"""Long-document questions: rag and minions against the LLM reading everything (issue 13 §3).

The corpus is real text every Debian machine has offline: the GPL-3, Apache-2.0 and MPL-2.0
licences in /usr/share/common-licenses (base-files), about 13,500 SmolLM2 tokens together,
1.6 times SmolLM2's 8,192-token context. ``bench/data/long_doc_qa.json`` holds 53 questions
with answers that occur verbatim in their licence (a test checks it), scored by "contains"
(any accepted answer in the reply, any case). Systems:

- ``rag``: ``patterns.rag`` over an index of the three licences (saved under
  ~/.cache/collab/bench-long-doc-index, so it is embedded once);
- ``minions``: ``patterns.minions`` on the three licences as one document;
- ``llm_all``: the LLM reads the whole corpus, then the question (the corpus first, so a
  server's prompt cache serves it after the first question). Not run by default: it needs a
  context of 20,000 tokens or more; run alone (``--systems llm_all``), it starts the embedded
  server with a 24,576-token context. Its remote tokens are counted on every row anyway.

Each invocation replaces the rows of the systems it ran in ``bench/results/long_doc_qa.json``
and keeps the others', so the systems can run one at a time.

Each row has the remote tokens spent and those of the LLM reading everything (counted by the
LLM's tokenizer, no call). ``python -m bench.long_doc_qa --limit 10 --systems rag minions``;
wrap a full run in ``flock /work/notes/heavy.lock``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from collab.patterns.minions import MinionsConfig
from collab.patterns.rag import RagConfig
from collab.patterns.rag_index import RagIndex

from collab.budget.metered import estimated_prompt_tokens
from collab.budget.run import Run
from collab.errors import CollabError, UserError
from collab.evaluation.metrics import get_metric
from collab.models.base import Model
from collab.patterns import minions, rag

DATA = Path(__file__).resolve().parent / "data" / "long_doc_qa.json"
RESULTS = Path(__file__).resolve().parent / "results" / "long_doc_qa.json"
LICENSES = Path("/usr/share/common-licenses")
INDEX = Path.home() / ".cache" / "collab" / "bench-long-doc-index"
SYSTEMS = ("rag", "minions", "llm_all")
RAG = RagConfig(answer_max_tokens=96)
"""rag as measured unless ``--rag-passages`` / ``--no-rag-rerank`` say otherwise."""
MINIONS = MinionsConfig(chunk_tokens=400, max_jobs=2, max_tasks=96)
"""MinionS as measured unless ``--chunk-tokens`` / ``--max-jobs`` say otherwise."""


@dataclass(frozen=True)
class Question:
    id: str
    document: str
    question: str
    answers: list[str]


@dataclass(frozen=True)
class Outcome:
    """One system's answer to one question."""

    id: str
    system: str
    answer: str
    correct: bool
    remote_tokens: int
    baseline_remote_tokens: int
    local_calls: int
    seconds: float
    error: str | None = None
    """Why the system gave no answer (e.g. the corpus does not fit the LLM's context)."""


def questions(path: Path = DATA) -> list[Question]:
    return [Question(**q) for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]


def documents(names: Sequence[str], folder: Path = LICENSES) -> dict[str, str]:
    """The licence texts by name; a clear error where base-files' copies are missing."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise UserError(
            f"licence texts {missing} are not in {folder}",
            hint="this benchmark reads Debian's base-files copies: apt-get install base-files",
        )
    return {n: (folder / n).read_text(encoding="utf-8") for n in names}


def corpus_of(docs: dict[str, str]) -> str:
    return "\n\n".join(docs.values())


def _whole(corpus: str, question: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer the question from the documents, briefly."},
        {"role": "user", "content": f"Documents:\n{corpus}\n\nQuestion: {question}"},
    ]


def _remote_tokens(run: Run) -> int:
    return sum(
        r.prompt_tokens + r.completion_tokens for r in run.ledger.records if r.kind == "remote"
    )


def _local_calls(run: Run) -> int:
    return sum(1 for r in run.ledger.records if r.kind == "local")


def evaluate(
    items: Sequence[Question],
    *,
    slm: Model,
    llm: Model,
    docs: dict[str, str],
    systems: Sequence[str] = SYSTEMS,
    index: RagIndex | None = None,
    rag_config: RagConfig = RAG,
    minions_config: MinionsConfig = MINIONS,
    on_row: Callable[[Outcome], None] = lambda _: None,
    tag: str = "",
) -> list[Outcome]:
    """Every system on every question, each question in a run of its own; ``tag`` follows
    each row's system name (a variant saved beside the plain rows)."""
    contains = get_metric("contains")
    corpus = corpus_of(docs)
    if "rag" in systems and index is None:
        index = RagIndex(embedder=slm)
        index.add(docs)
    answerers: dict[str, Callable[[str, Run], str]] = {
        "rag": lambda q, run: (
            rag.run(q, slm=slm, llm=llm, index=index, config=rag_config, run=run).answer
        ),
        "minions": lambda q, run: (
            minions.run(
                q,
                document=corpus,
                slm=slm,
                llm=llm,
                config=minions_config,
                run=run,
            ).answer
        ),
        "llm_all": lambda q, run: run.wrap(llm).complete(_whole(corpus, q), max_tokens=96).text,
    }
    rows = []
    for item in items:
        for system in systems:
            started = time.perf_counter()
            error = None
            with Run(local_model=slm, remote_model=llm) as run:
                try:
                    answer = answerers[system](item.question, run)
                except CollabError as failed:  # one failed question is a row, not the end
                    answer, error = "", f"{type(failed).__name__}: {failed}"[:300]
            baseline = estimated_prompt_tokens(_whole(corpus, item.question))(
                llm
            ) + llm.count_tokens(answer)
            row = Outcome(
                id=item.id,
                system=system + tag,
                answer=answer.strip(),
                correct=any(contains(answer, a) == 1.0 for a in item.answers),
                remote_tokens=_remote_tokens(run),
                baseline_remote_tokens=baseline,
                local_calls=_local_calls(run),
                seconds=time.perf_counter() - started,
                error=error,
            )
            on_row(row)
            rows.append(row)
    return rows


def summary(rows: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """Per system: accuracy, mean remote tokens, and their share of the read-everything ones:
    what ``llm_all`` spent on the same question where it ran (the provider's count), else
    the estimate of each row."""
    measured = {r.id: r.remote_tokens for r in rows if r.system == "llm_all" and r.error is None}
    table: dict[str, dict[str, float]] = {}
    for system in dict.fromkeys(r.system for r in rows):
        mine = [r for r in rows if r.system == system]
        spent = sum(r.remote_tokens for r in mine)
        baseline = sum(measured.get(r.id, r.baseline_remote_tokens) for r in mine)
        table[system] = {
            "n": len(mine),
            "accuracy": sum(r.correct for r in mine) / len(mine),
            "mean_remote_tokens": spent / len(mine),
            "remote_token_share": spent / baseline if baseline else 0.0,
            "mean_seconds": sum(r.seconds for r in mine) / len(mine),
            "errors": sum(r.error is not None for r in mine),
        }
    return table


def save(rows: Sequence[Outcome], meta: dict[str, Any], path: Path = RESULTS) -> Path:
    """Write ``rows`` with the saved rows of the systems they do not cover."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ran = {r.system for r in rows}
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        kept = [Outcome(**r) for r in saved.get("rows", []) if r["system"] not in ran]
        meta = {**saved.get("runs", {}), **{system: meta for system in ran}}
        rows = [*kept, *rows]
    else:
        meta = {system: meta for system in ran}
    payload = {
        "title": "long-document questions: rag and minions vs the LLM reading everything",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": meta,
        "summary": summary(rows),
        "rows": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def _progress(r: Outcome) -> None:
    tokens = f"{r.remote_tokens}/{r.baseline_remote_tokens}"
    said = r.answer[:60] if r.error is None else f"error: {r.error[:120]}"
    print(f"{r.id} {r.system}: {'right' if r.correct else 'wrong'} {tokens} {said!r}")


WHOLE_CONTEXT = 24_576
"""The embedded server's context when the LLM reads the whole corpus."""


def _llm(model: str | None, *, threads: int, whole: bool) -> AbstractContextManager[Model]:
    """The remote LLM: ``model`` (or $COLLAB_LLM), else the embedded server, with a context
    for the whole corpus when ``whole``."""
    import collab
    from collab.models.default_llm import LLM_ENV_VAR

    if model or os.environ.get(LLM_ENV_VAR):
        return collab.default_llm(model)
    return collab.embedded_llm(n_threads=threads, n_ctx=WHOLE_CONTEXT if whole else None)


def main(argv: list[str] | None = None) -> None:
    import collab

    parser = argparse.ArgumentParser(prog="python -m bench.long_doc_qa")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=["rag", "minions"])
    parser.add_argument("--limit", type=int, help="the first N questions only")
    parser.add_argument(
        "--every", type=int, default=1, help="every Nth question only (a spread subset)"
    )
    parser.add_argument("--slm", default="smollm2-135m-instruct")
    parser.add_argument("--llm", help="LiteLLM model string (default: the embedded server)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads per model")
    parser.add_argument(
        "--prefix-cache-mb",
        type=float,
        default=512,
        help="the SLM's saved prompt states (a chunk asked about again skips its prefill); 0: none",
    )
    parser.add_argument("--rag-passages", type=int, default=RAG.passages, help="rag's, to the LLM")
    parser.add_argument(
        "--no-rag-rerank", action="store_true", help="rag keeps the fused order (no SLM reranker)"
    )
    parser.add_argument(
        "--vector-weight", type=float, help="the index's vector weight (default: as saved)"
    )
    parser.add_argument("--chunk-tokens", type=int, default=MINIONS.chunk_tokens, help="minions'")
    parser.add_argument("--max-jobs", type=int, default=MINIONS.max_jobs, help="minions' per round")
    parser.add_argument(
        "--quotes", action="store_true", help="minions' workers quote the chunk; unquoted dropped"
    )
    parser.add_argument(
        "--chunks-per-job",
        type=int,
        help="minions' workers read only each job's best chunks by BM25 (default: every chunk)",
    )
    parser.add_argument("--tag", help="a label after the systems' names (a variant's rows)")
    parser.add_argument("--max-rounds", type=int, default=MINIONS.max_rounds, help="minions'")
    args = parser.parse_args(argv)
    rag_config = RAG.model_copy(
        update={"passages": args.rag_passages, "rerank": not args.no_rag_rerank}
    )
    minions_config = MINIONS.model_copy(
        update={
            "chunk_tokens": args.chunk_tokens,
            "max_jobs": args.max_jobs,
            "max_rounds": args.max_rounds,
            "quotes": args.quotes,
            "chunks_per_job": args.chunks_per_job,
        }
    )
    items = questions()[:: args.every][: args.limit]
    docs = documents(sorted({q.document for q in questions()}))
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with (
        collab.LocalModel.from_catalog(
            args.slm, n_threads=args.threads, prefix_cache_mb=args.prefix_cache_mb
        ) as slm,
        _llm(args.llm, threads=args.threads, whole="llm_all" in args.systems) as llm,
    ):
        index = None
        if "rag" in args.systems:
            index = (
                RagIndex.load(INDEX, embedder=slm)
                if (INDEX / "chunks.json").is_file()
                else RagIndex(embedder=slm)
            )
            if args.vector_weight is not None:
                index.vector_weight = args.vector_weight
            index.add(docs)
            index.save(INDEX)
        rows = evaluate(
            items,
            slm=slm,
            llm=llm,
            docs=docs,
            systems=args.systems,
            index=index,
            rag_config=rag_config,
            minions_config=minions_config,
            on_row=_progress,
            tag=f" ({args.tag})" if args.tag else "",
        )
    meta = {
        "slm": args.slm,
        "llm": llm.name,
        "questions": len(items),
        "every": args.every,
        "started": started,
    }
    if "rag" in args.systems and index is not None:
        meta["rag"] = {
            **rag_config.model_dump(include={"candidates", "passages", "rerank"}),
            "vector_weight": index.vector_weight,
        }
    if "minions" in args.systems:
        meta["minions"] = minions_config.model_dump(
            include={
                "chunk_tokens",
                "max_jobs",
                "max_rounds",
                "max_tasks",
                "quotes",
                "chunks_per_job",
            }
        )
    path = save(rows, {**meta, "threads": args.threads, "prefix_cache_mb": args.prefix_cache_mb})
    print(json.dumps(summary(rows), indent=1))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
