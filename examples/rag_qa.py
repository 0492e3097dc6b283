"""Ask questions about collab's own docs: the SLM retrieves, the LLM answers from a few passages.

The documents are the Markdown pages under docs/. SmolLM2-135M (in-process through llama.cpp)
chunks and embeds them into a ``RagIndex`` saved in ``--index`` (the second run loads it and
embeds only pages that changed), searches it by BM25 and embeddings fused by rank, and reranks
the candidates by its P("yes") that each helps. Only the best passages go to the remote LLM (the
embedded OpenAI-compatible server over HTTP through LiteLLM, or any provider model given with
``--llm``), which answers citing them; the SLM then judges whether each claim is grounded.

Everything runs in a ``collab.Run`` with a budget: the live view shows each step, and the end
shows the answers, their citations, the remote prompt tokens against sending every page, and
the ledger.

    collab run rag_qa
    collab run rag_qa -- "What does the degrade policy do?" --index /tmp/collab-docs-index
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from collab.examples._session import open_session, saving_line
from collab.patterns.rag import RagConfig
from collab.patterns.rag_index import Embedder, RagIndex
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import rag

DOCS = Path(__file__).resolve().parents[1] / "docs"
DEFAULT_INDEX = Path.home() / ".cache" / "collab" / "rag-docs-index"
DEFAULT_QUESTIONS = [
    "What does the degrade budget policy do?",
    "Which judge checks that an answer is supported by its sources?",
    "How does the cascade decide to escalate a question?",
]


def documents(folder: Path = DOCS) -> dict[str, str]:
    """Every Markdown page under ``folder``, by its path relative to it."""
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*.md"))
    }


def open_index(folder: Path, embedder: Embedder, docs: dict[str, str]) -> tuple[RagIndex, int]:
    """The index in ``folder`` brought up to date with ``docs``, and how many chunks it
    embedded to get there (0 when nothing changed)."""
    if (folder / "chunks.json").is_file():
        index = RagIndex.load(folder, embedder=embedder)
    else:
        index = RagIndex(embedder=embedder)
    for gone in set(index.documents) - set(docs):
        index.remove(gone)
    added = index.add(docs)
    index.save(folder)
    return index, len(added)


def build_graph(slm: collab.Model, llm: collab.Model, index: RagIndex) -> Any:
    """The RAG pattern: retrieve -> rerank (SLM) -> answer (LLM) -> judge (SLM)."""
    config = RagConfig(candidates=6, passages=3, answer_max_tokens=160)
    return rag.build(slm=slm, llm=llm, index=index, config=config)


def answers_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    table = Table(title="answers")
    for column in ("question", "answer", "cited", "grounded", "remote / all pages (tokens)"):
        table.add_column(column, overflow="fold")
    for question, final in rows:
        details = final["details"]
        verdicts = final.get("verdicts") or [{}]
        cited = ", ".join(c["chunk_id"] for c in details["citations"]) or "-"
        p = verdicts[0].get("probability")
        tokens = (
            f"{details['remote_prompt_tokens']} / {details['all_documents_prompt_tokens']}"
            if "remote_prompt_tokens" in details
            else "- (no LLM call)"
        )
        table.add_row(question, final["answer"], cited, "-" if p is None else f"{p:.2f}", tokens)
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="collab run rag_qa", description=__doc__.split("\n")[0])
    parser.add_argument("questions", nargs="*", help="questions (default: three built-in ones)")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="the index folder")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.001, help="remote spend cap in USD (default 0.001)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    questions = args.questions or DEFAULT_QUESTIONS
    console = Console()
    budget = collab.Budget(usd=args.budget_usd, policy="degrade")
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        slm, llm, run = session.slm, session.llm, session.run
        with console.status(f"indexing {DOCS} into {args.index}..."):
            index, embedded = open_index(args.index, slm, documents())
        console.print(
            f"index: {len(index)} chunks of {len(index.documents)} pages; "
            f"{embedded} chunks embedded now (0: the saved index was up to date)"
        )
        graph = build_graph(slm, llm, index)
        finals: list[tuple[str, dict[str, Any]]] = []
        with session.live():
            for question in questions:
                finals.append((question, await graph.ainvoke({"question": question})))
        console.print(answers_table(finals))
        session.print_ledger("node", "model")
        console.print(saving_line(run))
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
