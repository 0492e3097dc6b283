"""``collab eval``: lists patterns, refuses unknown names with the list, runs end to end."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from collab import Message, ScriptedModel
from collab.cli import eval_cmd
from collab.cli.main import main
from collab.evaluation.builtin_qa import QUESTIONS

ANSWERS = dict(QUESTIONS)


@pytest.fixture
def scripted_models(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """``open_models`` yields scripted models: the SLM answers wrong, the LLM right (it finds
    the question in what it is asked, whatever the pattern wraps around it)."""
    opened: list[tuple[str, str | None]] = []

    @contextlib.contextmanager
    def open_models(
        slm: str, llm: str | None, *, threads: int | None = None
    ) -> Iterator[tuple[ScriptedModel, ScriptedModel]]:
        opened.append((slm, llm))
        yield (
            ScriptedModel(lambda _: "no idea", name=slm, kind="local"),
            ScriptedModel(
                lambda m: next(a for q, a in ANSWERS.items() if q in m[-1].content),
                name="llm",
                kind="remote",
                cost_per_token_usd=1e-6,
            ),
        )

    monkeypatch.setattr(eval_cmd, "open_models", open_models)
    return opened


def test_an_unknown_pattern_is_one_line_listing_the_available_ones(
    capsys: pytest.CaptureFixture[str], scripted_models: list[tuple[str, str | None]]
) -> None:
    assert main(["eval", "cascde"]) == 2
    err = capsys.readouterr().err
    assert "no evaluation for pattern 'cascde'" in err
    assert "did you mean cascade?" in err and "available: cascade" in err
    assert scripted_models == []  # refused before loading any model


def test_no_pattern_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    assert all(p in out for p in ("cascade", "draft_verify", "router", "slm_judges_llm"))


@pytest.mark.parametrize(
    ("pattern", "rows"),
    [
        ("router", ["llm-only", "slm-only", "router"]),
        ("draft_verify", ["llm-only", "slm-only", "draft_verify"]),
        ("slm_judges_llm", ["llm-only", "slm-only", "slm_judges_llm"]),
    ],
)
def test_every_registered_pattern_runs_end_to_end(
    pattern: str,
    rows: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scripted_models: list[tuple[str, str | None]],
) -> None:
    args = ["eval", pattern, "--limit", "2", "--json", "--no-plot", "--out", str(tmp_path)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["system"], report["n_items"], report["errors"]) == (pattern, 2, 0)
    assert list(dict.fromkeys(r["label"] for r in report["rows"])) == rows
    by_label = {r["label"]: r for r in report["rows"] if r["threshold"] is None}
    assert by_label["llm-only"]["accuracy"] == 1.0 and by_label["slm-only"]["accuracy"] == 0.0


def test_an_unknown_metric_or_dataset_is_refused_before_loading_models(
    capsys: pytest.CaptureFixture[str], scripted_models: list[tuple[str, str | None]]
) -> None:
    assert main(["eval", "cascade", "--metric", "bleu"]) == 2
    assert "unknown metric 'bleu'" in capsys.readouterr().err
    assert main(["eval", "cascade", "--dataset", "trivia"]) == 2
    assert "unknown dataset 'trivia'" in capsys.readouterr().err
    assert main(["eval", "cascade", "--metric", "humaneval"]) == 2
    assert "metric 'humaneval' needs items with prompt" in capsys.readouterr().err
    assert scripted_models == []


def test_eval_prints_the_table_and_writes_json_and_plot(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scripted_models: list[tuple[str, str | None]],
) -> None:
    code = main(["eval", "cascade", "--limit", "3", "--seed", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert scripted_models == [("smollm2-135m-instruct", None)]
    assert "cascade on builtin-qa: 3 items, metric contains" in out
    assert "llm-only" in out and "slm-only" in out
    results = json.loads((tmp_path / "cascade-builtin-qa.json").read_text())
    rows = {r["label"]: r for r in results["rows"] if r["threshold"] is None}
    assert rows["llm-only"]["accuracy"] == 1.0 and rows["slm-only"]["accuracy"] == 0.0
    assert (tmp_path / "cascade-builtin-qa.png").stat().st_size > 0


def test_json_output_is_the_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    scripted_models: list[tuple[str, str | None]],
) -> None:
    args = ["eval", "cascade", "--limit", "2", "--json", "--no-plot", "--out", str(tmp_path)]
    assert main([*args, "--llm", "openai/gpt-4o-mini", "--metric", "exact"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["system"], report["n_items"], report["metric"]) == ("cascade", 2, "exact")
    assert scripted_models == [("smollm2-135m-instruct", "openai/gpt-4o-mini")]
    assert not (tmp_path / "cascade-builtin-qa.png").exists()


def test_recorded_calls_are_replayed_by_a_second_evaluation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    @contextlib.contextmanager
    def open_models(
        slm: str, llm: str | None, *, threads: int | None = None
    ) -> Iterator[tuple[ScriptedModel, ScriptedModel]]:
        def answer(messages: list[Message]) -> str:
            asked.append(messages[-1].content)
            return next(a for q, a in ANSWERS.items() if q in messages[-1].content)

        yield (
            ScriptedModel(
                lambda _: "no idea", name=slm, kind="local", scores=lambda _p, _o: [0, 1]
            ),
            ScriptedModel(answer, name="llm", kind="remote", cost_per_token_usd=1e-6),
        )

    monkeypatch.setattr(eval_cmd, "open_models", open_models)
    record = tmp_path / "calls.sqlite"
    args = ["eval", "cascade", "--limit", "3", "--json", "--no-plot", "--out", str(tmp_path)]
    assert main([*args, "--record", str(record)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert len(asked) == 3
    assert main([*args, "--record", str(record)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert len(asked) == 3  # every LLM call replayed
    costs = [[r["remote_usd"] for r in report["rows"]] for report in (first, again)]
    assert costs[0] == costs[1] and max(costs[0]) > 0  # replayed calls cost what they did
    rows = {r["label"]: r for r in again["rows"] if r["threshold"] is None}
    assert rows["slm-only"]["remote_tokens"] == 0 < rows["llm-only"]["remote_tokens"]
