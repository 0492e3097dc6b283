"""The embedded server, for real: llama.cpp behind HTTP, reached through LiteLLM."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from pydantic import BaseModel

from collab import ModelFileCorruptError, ServerStartError, ServerUnreachableError, UserError
from collab.models.server import STAND_IN_PRICE, EmbeddedServer

pytestmark = pytest.mark.integration


class Answer(BaseModel):
    city: str
    sure: bool


def test_completion_over_http_is_priced_at_the_stand_in_price(embedded: EmbeddedServer) -> None:
    llm = embedded.remote_model()
    done = llm.complete("What is the capital of France?", max_tokens=16)
    assert done.kind == "remote" and done.text.strip()
    assert done.usage.prompt_tokens > 0 and 0 < done.usage.completion_tokens <= 16
    expected = (
        done.usage.prompt_tokens * STAND_IN_PRICE.input_per_mtok_usd
        + done.usage.completion_tokens * STAND_IN_PRICE.output_per_mtok_usd
    ) / 1e6
    assert done.cost_usd == pytest.approx(expected)


def test_schema_constrained_object_over_http_validates(embedded: EmbeddedServer) -> None:
    done = embedded.remote_model().complete(
        "Which city is the capital of Japan? Reply in JSON.", max_tokens=48, schema=Answer
    )
    assert isinstance(done.parsed, Answer)
    assert done.parsed.city


def test_stream_over_http_arrives_in_pieces_that_make_the_answer(embedded: EmbeddedServer) -> None:
    # Not compared with a non-streamed call: the server's prompt cache changes the numerics of
    # a repeated prompt (batch vs single-token decode), so two greedy runs may differ.
    stream = embedded.remote_model().stream("Name three colours.", max_tokens=20)
    deltas = list(stream)
    assert len(deltas) > 3
    assert stream.completion is not None
    assert stream.completion.text == "".join(deltas) and stream.completion.text.strip()
    assert 0 < stream.completion.usage.completion_tokens <= 21


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_server_stops_on_exit_and_frees_its_port(smollm2_source_path: str | Path) -> None:
    with EmbeddedServer(smollm2_source_path) as server:
        port = server.port
        assert port is not None and not _port_is_free(port)
        llm = server.remote_model(max_retries=0)
    assert not server.running
    assert _port_is_free(port)
    with pytest.raises(ServerUnreachableError):
        llm.complete("hello", max_tokens=2)


def test_server_stops_when_the_body_raises(smollm2_source_path: str | Path) -> None:
    with pytest.raises(RuntimeError), EmbeddedServer(smollm2_source_path) as server:
        port = server.port
        raise RuntimeError("user code failed")
    assert not server.running and port is not None and _port_is_free(port)


def test_corrupt_gguf_is_refused_before_any_process(
    tmp_path: Path, smollm2_source_path: str | Path
) -> None:
    from collab.models.catalog import model_path

    source = smollm2_source_path
    real = model_path(source, pull=False) if isinstance(source, str) else source
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(real.read_bytes()[:2_000_000])
    server = EmbeddedServer(bad)
    with pytest.raises(ModelFileCorruptError, match="truncated"):
        server.start()
    assert not server.running


def test_a_server_that_dies_at_start_reports_why(smollm2_source_path: str | Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedServer(smollm2_source_path, port=taken.getsockname()[1])
        with pytest.raises(ServerStartError, match="exited with code") as info:
            server.start()
    assert "address already in use" in info.value.message.lower()
    assert not server.running


def test_an_unknown_chat_format_is_refused_with_the_known_ones(
    smollm2_source_path: str | Path,
) -> None:
    with pytest.raises(UserError, match="no-such-format") as info:
        EmbeddedServer(smollm2_source_path, chat_format="no-such-format").start()
    assert "chatml" in info.value.hint


def test_prompt_lookup_serves_drafts_verified_in_batches(
    smollm2_source_path: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp counts a multi-token decode as prompt evaluation: with prompt lookup on, a
    reply that copies its prompt is partly decoded in verification batches, so more tokens go
    through "prompt eval" than the prompt has (the server's verbose log says how many)."""
    monkeypatch.setenv("COLLAB_DEBUG", "1")  # the child logs llama.cpp's timings
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
    with EmbeddedServer(smollm2_source_path, alias="smollm2", prompt_lookup=8) as server:
        done = server.remote_model().complete(f"Repeat exactly: {text}", max_tokens=32)
        assert server._workdir is not None
        log = (Path(server._workdir.name) / "server.log").read_text(errors="replace")
    evaluated = [int(n) for n in re.findall(r"prompt eval time =.*?/\s*(\d+) tokens", log)]
    assert evaluated and done.usage.completion_tokens > 8
    assert evaluated[-1] > done.usage.prompt_tokens
