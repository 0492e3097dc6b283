"""bench.long_doc_qa: its questions are checkable in the real texts; its loop scores and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import long_doc_qa
from collab import ScriptedModel
from collab.types import Message
from tests.unit.test_rag_index import bag_of_words

ITEMS = long_doc_qa.questions()


def test_there_are_at_least_fifty_questions_over_three_licences() -> None:
    assert len(ITEMS) >= 50 and len({q.id for q in ITEMS}) == len(ITEMS)
    assert {q.document for q in ITEMS} == {"GPL-3", "Apache-2.0", "MPL-2.0"}


@pytest.mark.skipif(not long_doc_qa.LICENSES.is_dir(), reason="no /usr/share/common-licenses")
def test_every_answer_occurs_verbatim_in_its_licence() -> None:
    docs = long_doc_qa.documents(["GPL-3", "Apache-2.0", "MPL-2.0"])
    flat = {name: " ".join(text.split()).lower() for name, text in docs.items()}
    for q in ITEMS:
        assert any(a.lower() in flat[q.document] for a in q.answers), q.id


def test_missing_licence_texts_are_a_clear_error(tmp_path: Path) -> None:
    from collab.errors import UserError

    with pytest.raises(UserError, match="not in"):
        long_doc_qa.documents(["GPL-3"], folder=tmp_path)


def test_each_system_is_scored_and_its_remote_tokens_compared(tmp_path: Path) -> None:
    docs = {
        "A": "Alpha clause one. The term is thirty days. " + "Filler sentence here. " * 200,
        "B": "Beta clause two. The steward is Mozilla Foundation. " + "More filler text. " * 200,
    }
    items = [long_doc_qa.Question("a-01", "A", "What is the term?", ["thirty days"])]

    def slm_reply(messages: list[Message]) -> str:
        text = messages[-1].content
        return "The term is thirty days." if "thirty days" in text.split("Task:")[0] else "NONE"

    def llm_reply(messages: list[Message]) -> str:
        text = messages[-1].content
        if "Write at most" in text:
            return json.dumps({"jobs": [{"instruction": "Find the term", "chunks": []}]})
        if "Findings:" in text:
            return json.dumps({"done": True, "answer": "thirty days", "missing": ""})
        return "The term is thirty days [1]." if "thirty days" in text else "unknown"

    slm = ScriptedModel(
        slm_reply,
        name="slm",
        kind="local",
        embeddings=bag_of_words,
        scores=lambda p, o: [0.9, 0.1] if "thirty" in p else [0.1, 0.9],
    )
    llm = ScriptedModel(llm_reply, name="llm", kind="remote")
    rows = long_doc_qa.evaluate(items, slm=slm, llm=llm, docs=docs)
    by = {r.system: r for r in rows}
    assert set(by) == {"rag", "minions", "llm_all"} and all(r.correct for r in rows)
    baseline = by["llm_all"].baseline_remote_tokens
    assert by["llm_all"].remote_tokens == pytest.approx(baseline, rel=0.05)
    assert by["rag"].remote_tokens < baseline / 2 and by["minions"].remote_tokens < baseline / 2
    table = long_doc_qa.summary(rows)
    assert table["rag"]["accuracy"] == 1.0 and table["rag"]["remote_token_share"] < 0.5
    path = long_doc_qa.save(rows, {"slm": "slm"}, path=tmp_path / "out.json")
    assert json.loads(path.read_text())["summary"]["minions"]["n"] == 1


def test_a_system_that_fails_on_a_question_gives_an_error_row() -> None:
    from collab.errors import RemoteAPIError

    docs = {"A": "The term is thirty days."}
    items = [long_doc_qa.Question("a-01", "A", "What is the term?", ["thirty days"])]
    llm = ScriptedModel(
        [RemoteAPIError("prompt of 20000 tokens over n_ctx 4096", status_code=400)],
        name="llm",
        kind="remote",
    )
    [row] = long_doc_qa.evaluate(
        items, slm=ScriptedModel([]), llm=llm, docs=docs, systems=["llm_all"], tag=" (x)"
    )
    assert not row.correct and row.error and "RemoteAPIError" in row.error
    assert long_doc_qa.summary([row])["llm_all (x)"]["errors"] == 1  # a tagged variant's row


def test_saving_one_system_keeps_the_saved_rows_of_the_others(tmp_path: Path) -> None:
    def outcome(system: str, correct: bool) -> long_doc_qa.Outcome:
        return long_doc_qa.Outcome("a-01", system, "x", correct, 10, 100, 1, 0.1)

    path = tmp_path / "out.json"
    long_doc_qa.save([outcome("rag", True), outcome("llm_all", False)], {"slm": "a"}, path=path)
    long_doc_qa.save([outcome("llm_all", True)], {"slm": "b"}, path=path)
    saved = json.loads(path.read_text())
    assert sorted(r["system"] for r in saved["rows"]) == ["llm_all", "rag"]
    assert saved["summary"]["llm_all"]["accuracy"] == 1.0
    assert saved["summary"]["rag"]["accuracy"] == 1.0
    assert saved["runs"]["rag"]["slm"] == "a" and saved["runs"]["llm_all"]["slm"] == "b"


def test_the_baseline_is_what_the_llm_reading_everything_spent_where_it_ran() -> None:
    def outcome(qid: str, system: str, spent: int) -> long_doc_qa.Outcome:
        return long_doc_qa.Outcome(qid, system, "x", True, spent, 1000, 1, 0.1)

    rows = [outcome("q1", "llm_all", 800), outcome("q1", "rag", 80), outcome("q2", "rag", 100)]
    table = long_doc_qa.summary(rows)
    assert table["llm_all"]["remote_token_share"] == 1.0
    assert table["rag"]["remote_token_share"] == pytest.approx(180 / 1800)
