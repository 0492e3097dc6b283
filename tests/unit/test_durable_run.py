"""A checkpointed run killed for real resumes without paying again for its finished calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fault_server import FaultServer, Reply

from collab import Ledger

TESTS = Path(__file__).resolve().parents[1]
SAME_FIELDS = ("node", "role", "model", "kind", "prompt_tokens", "completion_tokens", "cost_usd")


def start(db: Path, api_base: str, thread: str, *flags: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "durable_graph", str(db), api_base, thread, *flags],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def finished_ledger(process: subprocess.Popen[str]) -> Ledger:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    line = next(x for x in out.splitlines() if x.startswith("ledger "))
    return Ledger.from_json(line.removeprefix("ledger "))


def comparable(ledger: Ledger) -> list[tuple[object, ...]]:
    return [tuple(getattr(r, f) for f in SAME_FIELDS) for r in ledger.records]


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
