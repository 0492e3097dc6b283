"""SIGKILLs at random points of a checkpointed multi-step run: each resume ends with the
result and ledger of an uninterrupted run, and no call whose step was checkpointed is paid
again (only the call in flight at a kill may be). 3 kills here, 20 behind ``slow``."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from child_runs import comparable, finished_ledger
from child_runs import start as start_child
from crash_graph import steps


def start(db: Path, paid: Path, thread: str, n: int) -> subprocess.Popen[str]:
    return start_child("crash_graph", db, paid, thread, n)


def payments(paid: Path) -> list[list[str]]:
    """The steps each process was paid for, in order, one list per process."""
    by_pid: dict[str, list[str]] = defaultdict(list)
    for line in paid.read_text().splitlines():
        pid, step = line.split()
        by_pid[pid].append(step)
    return list(by_pid.values())


def crash_and_resume(tmp_path: Path, *, kills: int, n: int, seed: int) -> None:
    rng = random.Random(seed)
    whole_paid, paid = tmp_path / "whole.log", tmp_path / "crashed.log"
    whole = finished_ledger(start(tmp_path / "whole.db", whole_paid, "whole", n))
    assert payments(whole_paid) == [steps(n)]

    db, killed = tmp_path / "crashed.db", 0
    while killed < kills:
        process = start(db, paid, "crashed", n)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        try:  # a kill anywhere in the first ~third of a whole run
            process.wait(timeout=rng.uniform(0, 0.3))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            killed += 1
        else:  # the run finished before its kill came
            pytest.fail(f"the run finished before kill {killed + 1}: give it more steps")
    resumed = finished_ledger(start(db, paid, "crashed", n))

    assert comparable(resumed) == comparable(whole)
    assert [r.node for r in resumed.records] == steps(n)
    assert resumed.total().cost_usd == pytest.approx(whole.total().cost_usd)
    attempts = [p for p in payments(paid) if p]
    assert sorted({s for p in attempts for s in p}) == steps(n)  # every step paid
    order = steps(n)
    for earlier, later in itertools.pairwise(attempts):
        # A resumed process starts at the step in flight at the kill, or after it: a step
        # that a later checkpoint holds is never paid again.
        assert order.index(later[0]) >= order.index(earlier[-1]), (earlier, later)
    for attempt in attempts:  # and within one process each step is paid once, in order
        assert attempt == sorted(set(attempt))
    repaid = sum(len(p) for p in attempts) - n
    assert repaid <= kills  # at most the one call in flight at each kill


def test_three_kills_resume_to_the_uninterrupted_result(tmp_path: Path) -> None:
    crash_and_resume(tmp_path, kills=3, n=24, seed=3)


@pytest.mark.slow
def test_twenty_kills_resume_to_the_uninterrupted_result(tmp_path: Path) -> None:
    crash_and_resume(tmp_path, kills=20, n=160, seed=20)
