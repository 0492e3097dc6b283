"""A checkpointed run killed for real resumes without paying again for its finished calls."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from child_runs import comparable, finished_ledger
from child_runs import start as start_child
from fault_server import FaultServer, Reply
from postgres_cluster import PostgresCluster, unavailable_reason


def start(db: Path | str, api_base: str, thread: str, *flags: str) -> subprocess.Popen[str]:
    return start_child("durable_graph", db, api_base, thread, *flags)


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
