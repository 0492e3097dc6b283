"""One Ctrl-C stops ``collab run`` while a real embedded server answers, and the server child
goes with it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from child_runs import start_collab_run

pytestmark = pytest.mark.integration


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


def test_one_ctrl_c_stops_the_run_and_its_embedded_server(tmp_path: Path) -> None:
    example = tmp_path / "serving.py"
    example.write_text(EXAMPLE)
    process = start_collab_run(example)
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
