"""The CLI: errors are one line plus a hint with exit code 2; --debug shows the traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collab.cli.main import main


def test_unknown_example_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "cascade_qq"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no example named 'cascade_qq'" in err
    assert "did you mean cascade_qa" in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "collab.cli.main", "--debug", "run", "nope"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "UserError" in result.stderr


def test_no_command_prints_help_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: collab" in capsys.readouterr().out


def test_run_lists_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 0
    assert "cascade_qa" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import collab

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"collab {collab.__version__}"


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for line in ("1    a model, network", "2    usage error", "3    budget exhausted"):
        assert line in out


def _example(tmp_path: Path, body: str) -> str:
    path = tmp_path / "ex.py"
    path.write_text("import collab\n\n\ndef main():\n" + body)
    return str(path)


def test_an_exhausted_budget_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = (
        "    llm = collab.ScriptedModel(['a long answer'], kind='remote', cost_per_token_usd=1.0)\n"
        "    budget = collab.Budget(usd=0.000001, policy='raise')\n"
        "    with collab.Run(budget=budget) as run:\n"
        "        run.wrap(llm).complete('hi', max_tokens=50)\n"
    )
    assert main(["run", _example(tmp_path, body)]) == 3
    assert "budget" in capsys.readouterr().err.lower()


def test_a_model_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = (
        "    llm = collab.RemoteModel('openai/m', api_base='http://127.0.0.1:9/v1',"
        " max_retries=0, timeout_s=2)\n"
        "    llm.complete('hi')\n"
    )
    assert main(["run", _example(tmp_path, body)]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_the_embedded_server_model_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collab.models.server import DEFAULT_SERVER_MODEL, EmbeddedServer

    assert EmbeddedServer().model == DEFAULT_SERVER_MODEL == "qwen2.5-coder-1.5b-instruct"
    monkeypatch.setenv("COLLAB_SERVER_MODEL", "smollm2-135m-instruct")
    assert EmbeddedServer().model == "smollm2-135m-instruct"
    assert EmbeddedServer("gemma3-270m").model == "gemma3-270m"
