"""One Ctrl-C stops ``collab run`` at once, and what the example started is stopped with it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from child_runs import start_collab_run

# An example as the real ones are: an async main holding a server child in a `with` block,
# blocked in a synchronous call (graph.invoke) when the Ctrl-C comes.
EXAMPLE = """
import subprocess, sys, time
from contextlib import contextmanager

@contextmanager
def server():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()

async def main(argv):
    with server() as child:
        print(f"child {child.pid}", flush=True)
        while True:
            time.sleep(0.1)  # synchronous work inside the coroutine
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_one_ctrl_c_stops_a_blocking_async_example_and_its_child(tmp_path: Path) -> None:
    example = tmp_path / "blocking.py"
    example.write_text(EXAMPLE)
    process = start_collab_run(example)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("child "), line + process.stderr.read()  # type: ignore[union-attr]
        child = int(line.split()[1])
        process.send_signal(signal.SIGINT)  # once
        started = time.monotonic()
        code = process.wait(timeout=10)
        waited = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 130
    assert waited < 5
    assert not _alive(child), "the example's server child outlived the Ctrl-C"
    assert "interrupted" in process.stderr.read()  # type: ignore[union-attr]
