"""A checkpointed run killed for real resumes without paying again for its finished calls."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from child_runs import comparable, finished_ledger
from child_runs import start as start_child
from fault_server import FaultServer, Reply


def start(db: Path, api_base: str, thread: str, *flags: str) -> subprocess.Popen[str]:
    return start_child("durable_graph", db, api_base, thread, *flags)


def test_killed_run_resumes_without_paying_twice(tmp_path: Path) -> None:
    with FaultServer(default=Reply(content="done", prompt_tokens=9)) as server:
        whole = finished_ledger(start(tmp_path / "whole.db", server.api_base, "whole"))
        assert len(server.requests) == 3

        killed = start(tmp_path / "killed.db", server.api_base, "k", "--hang-before", "c")
        assert killed.stdout is not None
        for line in killed.stdout:  # steps a and b are paid and checkpointed before c starts
            if line.strip() == "step c":
                break
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert killed.returncode == -signal.SIGKILL
        assert len(server.requests) == 5

        resumed = finished_ledger(start(tmp_path / "killed.db", server.api_base, "k", "--resume"))
        assert len(server.requests) == 6  # only step c was called again

    assert comparable(resumed) == comparable(whole)
    assert [r.node for r in resumed.records] == ["a", "b", "c"]
    assert resumed.total().cost_usd == whole.total().cost_usd > 0
