"""``langgraph dev`` serves every pattern from ``langgraph.json``, metered, with no user code.

The server runs the real SmolLM2 as the SLM (``COLLAB_SLM``) in its own process; the remote
LLM is a ``scripted:`` model selected by ``COLLAB_LLM`` (fast and exact to assert on; the
embedded server works the same way with ``COLLAB_LLM=embedded:smollm2-135m-instruct``, it is
only slower). The client is ``langgraph_sdk``, as any LangGraph client would be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from collab.models.server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LLM_REPLY = "Three hundred ninety-one."
SERVED = json.loads((ROOT / "langgraph.json").read_text())["graphs"]


@pytest.fixture(scope="module")
def server(
    smollm2_source_path: str | Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    langgraph = Path(sys.executable).with_name("langgraph")
    if not langgraph.exists():
        pytest.skip("langgraph-cli is not installed: pip install 'collab[server]'")
    port = free_port()
    from collab.patterns.rag_index import RagIndex

    index = RagIndex()  # BM25 alone, for the served rag graph
    index.add({"tower": "The Eiffel Tower is in Paris."})
    folder = index.save(tmp_path_factory.mktemp("rag") / "index")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COLLAB_SLM": str(smollm2_source_path),
        "COLLAB_LLM": f"scripted:{LLM_REPLY}",
        "COLLAB_N_THREADS": "1",
        "COLLAB_BUDGET_CALLS": "20",
        "COLLAB_RAG_INDEX": str(folder),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    log = (tmp_path_factory.mktemp("langgraph") / "server.log").open("wb")
    command = [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--config", str(ROOT / "langgraph.json")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log.name)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"langgraph dev exited with {process.returncode}: see {log}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"langgraph dev did not answer on {url} within 120 s: see {log}")


def test_langgraph_json_lists_every_pattern() -> None:
    from collab.patterns.served import PATTERNS

    assert set(SERVED) == set(PATTERNS)
    assert all(spec == f"collab.patterns.served:{name}" for name, spec in SERVED.items())


async def test_a_served_cascade_is_metered_and_returns_its_ledger(server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server)
    configurable = {"pattern": {"threshold": 1.0, "draft_max_tokens": 8}, "budget": {"usd": 1.0}}
    out = await client.runs.wait(
        None,
        "cascade",
        input={"question": "What is 17 * 23?"},
        config={"configurable": configurable},
    )
    assert out["answer"] == LLM_REPLY and out["answered_by"] == "scripted-remote"
    assert out["escalated"] is True and "draft" in out and "question" not in out
    calls = out["collab_calls"]
    assert [c["node"] for c in calls] == ["draft", "judge", "escalate"]
    assert [c["kind"] for c in calls] == ["local", "local", "remote"]
    assert calls[0]["model"] == "smollm2-135m-instruct" and 0 < calls[0]["completion_tokens"] <= 8
    assert calls[2]["cost_usd"] > 0  # the scripted LLM is priced at $1 per million tokens
    assert len({c["run_id"] for c in calls}) == 1


async def test_a_client_budget_tightens_the_servers_and_degrades_to_the_slm(server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server)
    budget = {"usd": 1e-9, "policy": "degrade"}
    out = await client.runs.wait(
        None,
        "cascade",
        input={"question": "Name a colour."},
        config={
            "configurable": {
                "pattern": {"threshold": 1.0, "draft_max_tokens": 8, "answer_max_tokens": 8},
                "budget": budget,
            }
        },
    )
    escalated = out["collab_calls"][-1]
    assert escalated["outcome"] == "degraded" and escalated["kind"] == "local"
    assert out["answered_by"] == "smollm2-135m-instruct"
    assert sum(c["cost_usd"] or 0 for c in out["collab_calls"]) == 0


async def test_streamed_tokens_reach_the_client_in_messages_mode(server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server)
    thread = await client.threads.create()
    events: list[tuple[str, object]] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "cascade",
        input={"question": "What is the capital of France?"},
        config={"configurable": {"pattern": {"threshold": 0.0, "draft_max_tokens": 12}}},
        stream_mode=["messages", "custom"],
    ):
        events.append((part.event, part.data))
    tokens = [d["text"] for e, d in events if e == "custom" and d["type"] == "token"]
    partial = [d for e, d in events if e == "messages/partial"]
    assert len(tokens) >= 2 and partial
    assert partial[-1][0]["content"] == "".join(tokens)  # partials accumulate the tokens
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["answer"] == "".join(tokens).strip()
    assert [c["node"] for c in state["values"]["collab_calls"]] == ["draft", "judge"]


async def test_every_served_pattern_exports_its_schemas(server: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server)
    for name in SERVED:
        [assistant] = await client.assistants.search(graph_id=name)
        schemas = await client.assistants.get_schemas(assistant["assistant_id"])
        assert "question" in schemas["input_schema"]["properties"], name
        assert "collab_calls" in schemas["output_schema"]["properties"], name


def test_the_deploy_pages_client_block_runs_against_the_server(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from docs_blocks import blocks, run_block

    [block] = [b for b in blocks(ROOT / "docs" / "deploy.md", "python") if "langgraph dev" in b]
    shown = "http://127.0.0.1:2024"
    assert shown in block
    run_block(block.replace(shown, server), "deploy_doc_client", monkeypatch)
    answer_and_nodes = capsys.readouterr().out
    assert answer_and_nodes.startswith(LLM_REPLY) or "smollm2" in answer_and_nodes
    assert "['draft', 'judge'" in answer_and_nodes


def test_an_embedded_llm_is_started_once_per_process(
    smollm2_source_path: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``COLLAB_LLM=embedded:<model>``: the real embedded server, started by the first run
    that needs it and reused by the next (in this process, as in the server's)."""
    from collab.patterns import served
    from collab.serving import served_models

    monkeypatch.setenv("COLLAB_SLM", str(smollm2_source_path))
    monkeypatch.setenv("COLLAB_LLM", f"embedded:{smollm2_source_path}")
    monkeypatch.setenv("COLLAB_N_THREADS", "1")
    config = {"configurable": {"pattern": {"threshold": 1.0, "answer_max_tokens": 8}}}
    out = served.cascade(config).invoke({"question": "Name a colour."})
    again = served.cascade(config).invoke({"question": "Name a fruit."})
    escalations = [out["collab_calls"][-1], again["collab_calls"][-1]]
    assert [c["kind"] for c in escalations] == ["remote", "remote"]
    assert escalations[0]["model"] == escalations[1]["model"]
    assert escalations[0]["model"].endswith("smollm2-135m-instruct")
    assert served_models(config).llm is served_models().llm
