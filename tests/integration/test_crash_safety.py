"""Crash safety on the real SmolLM2: schemas that crashed llama.cpp, and the embedded server's
child outliving its parent."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from collab.errors import SchemaError
from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BAD_SCHEMAS = [
    {"type": "string", "enum": []},
    {"type": "integer", "minimum": 5, "maximum": 3},
]


def test_a_bad_schema_is_a_schema_error_in_process_not_a_segfault(
    smollm2_source_path: str | Path,
) -> None:
    # In a child process: before the fix this killed the interpreter (exit 139).
    script = textwrap.dedent(
        f"""
        import json, sys
        from collab.errors import SchemaError
        from collab.models.local import LocalModel
        source = {str(smollm2_source_path)!r}
        model = (LocalModel.from_catalog(source) if not source.endswith(".gguf")
                 else LocalModel(source, n_threads=1))
        for schema in {json.dumps(BAD_SCHEMAS)}:
            try:
                model.complete("x", max_tokens=16, schema=schema)
            except SchemaError as error:
                print("SchemaError:", error.message)
            else:
                sys.exit("no error for " + json.dumps(schema))
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("SchemaError:") == len(BAD_SCHEMAS)


def test_grammar_parse_failures_are_caught_before_sampling(smollm2: LocalModel) -> None:
    from collab.models import local_schema
    from collab.structured import OutputSchema

    checked = OutputSchema.of({"type": "string"})
    broken = local_schema.GrammarCache()
    grammar = broken.get(checked, smollm2._live())
    grammar._grammar = "root ::= (((("  # what a converter bug would hand llama.cpp
    with pytest.raises(SchemaError, match="cannot parse"):
        local_schema._check_parses(grammar, checked, smollm2._live())


def test_the_embedded_server_refuses_a_bad_schema_and_keeps_serving(
    embedded: EmbeddedServer,
) -> None:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 8,
        "response_format": {"type": "json_object", "schema": {"type": "string", "enum": []}},
    }
    refused = httpx.post(f"{embedded.base_url}/chat/completions", json=body, timeout=60)
    assert refused.status_code == 400 and "empty 'enum'" in refused.text
    assert embedded.running
    fine = embedded.remote_model().complete("Say hi.", max_tokens=4)
    assert fine.usage.completion_tokens > 0


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): it is gone as far as the port and memory go.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.parametrize("thread", [False, True], ids=["main-thread", "other-thread"])
def test_the_server_child_dies_with_its_parent_on_sigterm(
    smollm2_source_path: str | Path, thread: bool
) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys, threading, time
        from collab.models.server import EmbeddedServer
        server = EmbeddedServer({str(smollm2_source_path)!r}, n_threads=1)
        if {thread}:
            worker = threading.Thread(target=server.start)
            worker.start()
            worker.join()
        else:
            server.start()
        print(json.dumps({{"pid": server._process.pid, "port": server.port}}), flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        started = json.loads(parent.stdout.readline())
        child, port = started["pid"], started["port"]
        assert _alive(child) and _port_open(port)
        parent.send_signal(signal.SIGTERM)  # no atexit, no finalizer: the default action
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_alive(child) or _port_open(port)):
            time.sleep(0.1)
        assert not _alive(child), "the llama.cpp child outlived its parent"
        assert not _port_open(port)
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize(
    "prompt",
    ["caf\udce9", None, [{"role": "wizard", "content": "x"}]],
    ids=["surrogate", "none", "role"],
)
def test_bad_prompts_are_prompt_errors_on_the_real_model(
    smollm2: LocalModel, prompt: object
) -> None:
    from collab.errors import PromptError

    with pytest.raises(PromptError):
        smollm2.complete(prompt, max_tokens=4)  # type: ignore[arg-type]
    with pytest.raises(PromptError):
        smollm2.score(prompt, ["yes", "no"])  # type: ignore[arg-type]


@pytest.mark.parametrize("max_tokens", [0, -1, -1e6, 2.0, True])
def test_max_tokens_is_checked_on_the_real_model(smollm2: LocalModel, max_tokens: object) -> None:
    from collab.errors import UserError

    with pytest.raises(UserError, match="max_tokens"):
        smollm2.complete("x", max_tokens=max_tokens)  # type: ignore[arg-type]


@pytest.mark.slow
def test_every_accepted_schema_gives_a_grammar_or_a_schema_error(smollm2: LocalModel) -> None:
    """Generated schemas through the real converter and llama.cpp's grammar parser: a crash
    here would kill the test process."""
    from hypothesis import HealthCheck, given, settings

    from collab.models.local_schema import GrammarCache
    from collab.structured import OutputSchema
    from tests.unit.test_properties import schemas

    llm = smollm2._live()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(schemas)
    def check(schema: dict[str, object]) -> None:
        try:
            GrammarCache().get(OutputSchema.of(schema), llm)
        except SchemaError as error:
            assert error.message

    check()
