"""One Ctrl-C stops ``collab run`` while a real embedded server answers, and the server child
goes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# As cascade_qa is: an async main, a server in a `with`, synchronous calls inside the coroutine.
EXAMPLE = """
import collab

async def main(argv):
    with collab.EmbeddedServer("smollm2-135m-instruct", n_threads=1) as server:
        print(f"server {server.pid}", flush=True)
        llm = server.remote_model()
        while True:
            llm.complete("Count from one to twenty.", max_tokens=64)
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_one_ctrl_c_stops_the_run_and_its_embedded_server(tmp_path: Path) -> None:
    example = tmp_path / "serving.py"
    example.write_text(EXAMPLE)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "collab.cli.main", "run", str(example)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # As in a terminal: a CI runner or a background job may start us with SIGINT ignored,
        # and an ignored SIGINT is inherited (Python then installs no KeyboardInterrupt).
        preexec_fn=_default_sigint,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("server "), line
        server = int(line.split()[1])
        time.sleep(2)  # inside a call
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = process.wait(timeout=20)
        waited = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # 130 when the CLI caught the interrupt; -SIGINT when it arrived outside the CLI's try (in
    # the interpreter's own teardown): either way one Ctrl-C ended the run.
    assert code in (130, -signal.SIGINT), process.stderr.read()  # type: ignore[union-attr]
    assert waited < 8
    time.sleep(0.5)
    assert not Path(f"/proc/{server}").exists(), "the embedded server outlived the Ctrl-C"
