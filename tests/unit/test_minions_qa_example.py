"""The minions_qa example: its graph answers from the workers' findings and reports the saving."""

from __future__ import annotations

import json

import pytest

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from collab.types import Message

example = load_example("minions_qa")


def test_the_default_document_is_longer_than_a_worker_reads() -> None:
    words = len(example.DEFAULT_FILE.read_text(encoding="utf-8").split())
    assert words > 10 * 300 // 2  # many chunks of 300 tokens


def test_the_graph_answers_from_findings_and_reports_remote_tokens() -> None:
    document = example.DEFAULT_FILE.read_text(encoding="utf-8")

    def worker(messages: list[Message]) -> str:
        excerpt = messages[-1].content.split("Task:")[0]
        return "The interrupt policy asks a human." if "interrupt" in excerpt else "NONE"

    replies = iter(
        [
            json.dumps({"jobs": [{"instruction": "Which policy asks a human?", "chunks": []}]}),
            json.dumps({"done": True, "answer": "interrupt", "missing": ""}),
        ]
    )
    slm = ScriptedModel(worker, name="slm", kind="local")
    llm = ScriptedModel(lambda _: next(replies), name="llm", kind="remote")
    with Run() as run:
        final = example.build_graph(slm, llm).invoke(
            {"question": example.DEFAULT_QUESTION, "document": document}
        )
    details = final["details"]
    assert final["answer"] == "interrupt" and details["findings"]
    assert details["remote_tokens"] * 3 < details["baseline_remote_tokens"]
    assert example.findings_table(final).row_count == len(details["findings"])
    assert f"{details['chunks']} chunks" in example.cost_line(details)
    assert [r.kind for r in run.ledger.records].count("remote") == 2


def test_jobs_run_on_their_best_chunks_unless_told_every_chunk() -> None:
    document = example.DEFAULT_FILE.read_text(encoding="utf-8")

    def calls(chunks_per_job: int | None) -> tuple[int, int]:
        plan = {"jobs": [{"instruction": "Which policy asks a human?", "chunks": []}]}
        replies = iter([json.dumps(plan), json.dumps({"done": True, "answer": "?"})])
        slm = ScriptedModel(lambda _: "NONE", name="slm", kind="local")
        llm = ScriptedModel(lambda _: next(replies), name="llm", kind="remote")
        with Run():
            final = example.build_graph(slm, llm, chunks_per_job=chunks_per_job).invoke(
                {"question": example.DEFAULT_QUESTION, "document": document}
            )
        return final["details"]["worker_calls"], final["details"]["chunks"]

    assert calls(example.CHUNKS_PER_JOB) == (example.CHUNKS_PER_JOB, calls(None)[1])
    assert calls(None)[0] == calls(None)[1] > example.CHUNKS_PER_JOB


def test_a_negative_chunks_per_job_is_refused_by_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        example.parse_args(["--chunks-per-job", "-1"])
    assert "must be 0 (every chunk) or more" in capsys.readouterr().err
