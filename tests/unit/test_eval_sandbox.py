"""The sandbox runs model code in a child process: time-limited, without network or processes."""

from __future__ import annotations

import os

import pytest

from collab.evaluation.sandbox import network_isolated, run_python


def test_a_passing_program_passes() -> None:
    result = run_python("assert sum(range(4)) == 6\nprint('fine')")
    assert result.passed and result.status == "passed" and result.detail == ""


def test_a_failing_assertion_fails_with_the_error() -> None:
    result = run_python("assert 1 + 1 == 3, 'wrong sum'")
    assert result.status == "failed" and result.detail == "AssertionError: wrong sum"


def test_an_infinite_loop_times_out() -> None:
    result = run_python("while True:\n    pass", timeout_s=1.5)
    assert result.status == "timeout" and 1.5 <= result.duration_s < 10


def test_opening_a_socket_fails() -> None:
    program = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "s.settimeout(2)\n"
        "s.connect(('1.1.1.1', 80))\n"
    )
    result = run_python(program)
    assert result.status == "failed" and "socket" in result.detail


def test_starting_a_process_fails() -> None:
    result = run_python("import subprocess\nsubprocess.run(['true'])")
    assert result.status == "failed" and "subprocess.Popen is not allowed" in result.detail


@pytest.mark.skipif(not network_isolated(), reason="unshare cannot create a network namespace")
def test_the_child_has_a_network_namespace_of_its_own() -> None:
    result = run_python("import socket\nassert socket.if_nameindex() == [(1, 'lo')]")
    assert result.passed, result.stderr


def test_the_child_sees_neither_proxies_nor_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = run_python(
        "import os\nassert not {'HTTPS_PROXY', 'OPENAI_API_KEY'} & set(os.environ), os.environ"
    )
    assert result.passed, result.stderr


def test_the_child_runs_in_an_empty_temporary_folder() -> None:
    result = run_python(
        f"import os\nassert os.getcwd() != {os.getcwd()!r}\nassert os.listdir() == ['program.py']"
    )
    assert result.passed, result.stderr
