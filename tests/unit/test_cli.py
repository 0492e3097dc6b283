"""The CLI: errors are one line plus a hint with exit code 2; --debug shows the traceback."""

from __future__ import annotations

import subprocess
import sys

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
