"""Run a test graph as its own process (to kill it for real) and read the ledger it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from collab import Ledger

TESTS = Path(__file__).resolve().parent
SAME_FIELDS = ("node", "role", "model", "kind", "prompt_tokens", "completion_tokens", "cost_usd")
"""What a resumed run's records must share with an uninterrupted run's (ids and times differ)."""


def start(module: str, *args: object) -> subprocess.Popen[str]:
    """``python -m module args...`` with tests/ on the path, its stdout piped as text."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", module, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def finished_ledger(process: subprocess.Popen[str]) -> Ledger:
    """The ledger a child printed as ``ledger <json>``; it must have exited 0."""
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    line = next(x for x in out.splitlines() if x.startswith("ledger "))
    return Ledger.from_json(line.removeprefix("ledger "))


def comparable(ledger: Ledger) -> list[tuple[object, ...]]:
    return [tuple(getattr(r, f) for f in SAME_FIELDS) for r in ledger.records]


def start_collab_run(example: Path) -> subprocess.Popen[str]:
    """``collab run EXAMPLE`` from the repo, stdout and stderr piped, with SIGINT at its default
    as in a terminal (a CI runner may start the suite with SIGINT ignored, which children
    inherit, and Python then installs no KeyboardInterrupt)."""
    root = TESTS.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "collab.cli.main", "run", str(example)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
