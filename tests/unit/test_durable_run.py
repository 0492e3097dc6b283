"""A checkpointed run killed for real resumes without paying again for its finished calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fault_server import FaultServer, Reply
from postgres_cluster import PostgresCluster, unavailable_reason

from collab import Ledger

TESTS = Path(__file__).resolve().parents[1]
SAME_FIELDS = ("node", "role", "model", "kind", "prompt_tokens", "completion_tokens", "cost_usd")


def start(db: Path | str, api_base: str, thread: str, *flags: str) -> subprocess.Popen[str]:
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
    killed_run_resumes(tmp_path / "whole.db", tmp_path / "killed.db")


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_killed_run_resumes_from_postgres_without_paying_twice() -> None:
    """The same, on LangGraph's Postgres checkpointer in a throwaway PostgreSQL cluster."""
    with PostgresCluster() as url:
        killed_run_resumes(url, url)  # two threads in one database


def killed_run_resumes(whole_db: Path | str, killed_db: Path | str) -> None:
    with FaultServer(default=Reply(content="done", prompt_tokens=9)) as server:
        whole = finished_ledger(start(whole_db, server.api_base, "whole"))
        assert len(server.requests) == 3

        killed = start(killed_db, server.api_base, "k", "--hang-before", "c")
        assert killed.stdout is not None
        for line in killed.stdout:  # steps a and b are paid and checkpointed before c starts
            if line.strip() == "step c":
                break
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert killed.returncode == -signal.SIGKILL
        assert len(server.requests) == 5

        resumed = finished_ledger(start(killed_db, server.api_base, "k", "--resume"))
        assert len(server.requests) == 6  # only step c was called again

    assert comparable(resumed) == comparable(whole)
    assert [r.node for r in resumed.records] == ["a", "b", "c"]
    assert resumed.total().cost_usd == whole.total().cost_usd > 0
