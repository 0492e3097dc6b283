"""Two SmolLM2 server replicas behind LiteLLM's Router: one is killed mid-run, the run
completes, and every call is paid once, at the replica that answered it."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from collab import Run
from collab.models.replicas import Replicas
from collab.models.server import STAND_IN_PRICE

pytestmark = pytest.mark.integration

CALLS, KILL_AT = 8, 3


def answered_requests(server: object) -> int:
    """Chat completions the server answered with 200, from its access log."""
    workdir = server._workdir  # type: ignore[attr-defined]
    log = Path(workdir.name, "server.log").read_text(errors="replace")
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" 200', log))


def test_a_replica_killed_mid_run_costs_nothing_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLAB_DEBUG", "1")  # the servers log each request they answer
    with Replicas("smollm2-135m-instruct", count=2, n_threads=1) as replicas:
        llm = replicas.remote_model(timeout_s=60)
        completions = []
        with Run() as run:
            metered = run.wrap(llm)
            for i in range(CALLS):
                if i == KILL_AT:
                    killed = replicas.servers[0]
                    os.kill(killed.pid, signal.SIGKILL)  # type: ignore[arg-type]
                    killed._process.wait()  # type: ignore[union-attr]
                completions.append(metered.complete(f"Say the number {i}.", max_tokens=8))
        seen = [answered_requests(server) for server in replicas.servers]

    records = run.ledger.records
    assert [r.outcome for r in records] == ["ok"] * CALLS
    assert [r.model for r in records] == [c.model for c in completions]
    assert {c.model for c in completions[KILL_AT:]} == {"replica-1"}
    # The servers answered exactly the calls the ledger holds, each replica its own.
    assert sum(seen) == CALLS
    assert seen[0] >= 1, "replica-0 answered nothing before it was killed: nothing was tested"
    assert seen[1] == sum(1 for r in records if r.model == "replica-1")
    # Nothing paid twice: the total is each answered call at its replica's price, once.
    paid = sum(STAND_IN_PRICE.cost_usd(r.prompt_tokens, r.completion_tokens) for r in records)
    assert run.ledger.total().cost_usd == pytest.approx(paid)
    assert not any(server.running for server in replicas.servers)
