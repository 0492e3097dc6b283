"""The rag_qa example: its index is kept up to date; its graph answers with citations."""

from __future__ import annotations

from pathlib import Path

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from tests.unit.test_rag_index import bag_of_words

example = load_example("rag_qa")


def slm() -> ScriptedModel:
    return ScriptedModel(
        [], name="slm", kind="local", embeddings=bag_of_words, scores=lambda p, o: [0.8, 0.2]
    )


def test_the_docs_are_the_documents() -> None:
    docs = example.documents()
    assert "patterns/cascade.md" in docs and "budgets.md" in docs


def test_the_index_is_saved_and_only_changed_pages_are_embedded_again(tmp_path: Path) -> None:
    docs = {"a.md": "Alpha is first. It leads.", "b.md": "Beta is second."}
    model = slm()
    index, embedded = example.open_index(tmp_path, model, docs)
    assert embedded == 2 and (tmp_path / "chunks.json").is_file()
    index, embedded = example.open_index(tmp_path, model, docs)
    assert embedded == 0 and len(index) == 2
    index, embedded = example.open_index(tmp_path, model, {"b.md": "Beta is second, now."})
    assert embedded == 1 and index.documents == {"b.md": 1}


def test_the_graph_answers_from_the_passages_and_shows_the_token_saving(tmp_path: Path) -> None:
    model = slm()
    llm = ScriptedModel(lambda _: "It degrades [1].", name="llm", kind="remote")
    docs = {f"p{i}.md": f"Page {i} talks about topic {i}. " * 20 for i in range(8)}
    docs["budget.md"] = "The degrade policy answers a remote call with the local model."
    index, _ = example.open_index(tmp_path, model, docs)
    with Run() as run:
        final = example.build_graph(model, llm, index).invoke({"question": "degrade policy?"})
    assert final["answer"] == "It degrades [1]."
    assert final["details"]["passages"][0] == "budget.md#0"
    table = example.answers_table([("degrade policy?", final)])
    assert table.row_count == 1
    details = final["details"]
    assert details["remote_prompt_tokens"] * 2 < details["all_documents_prompt_tokens"]
    assert [r.node for r in run.ledger.records].count("answer") == 1
