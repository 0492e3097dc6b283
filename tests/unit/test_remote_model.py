"""RemoteModel over LiteLLM, against a loopback fault server (or ``mock_response``)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator

import pytest
from fault_server import FaultServer, Reply  # tests/ is on sys.path: conftest.py lives there
from pydantic import BaseModel

import collab
from collab.errors import (
    AuthenticationError,
    InvalidOutputError,
    MissingAPIKeyError,
    ModelTimeoutError,
    RemoteAPIError,
    ServerUnreachableError,
    UserError,
)
from collab.litellm_import import import_litellm
from collab.models.base import Model
from collab.models.remote import RemoteModel, RetryPolicy
from collab.models.remote_request import Call, Endpoint, build_request, probe_provider
from collab.models.retry import parse_retry_after
from collab.types import Message, ModelPrice

KEY = "sk-test-SECRET123456"
FAST = RetryPolicy(initial_s=0.01, max_s=0.02, retry_after_max_s=3.0)
LOGGERS = ("", "collab", "LiteLLM", "LiteLLM Router", "openai", "httpx", "httpcore")


class City(BaseModel):
    name: str
    country: str


def remote(server: FaultServer, **kwargs: object) -> RemoteModel:
    options: dict[str, object] = {"api_key": KEY, "retry": FAST, **kwargs}
    return RemoteModel("openai/fake", api_base=server.api_base, **options)  # type: ignore[arg-type]


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every library's log records, down to DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def test_is_a_model_named_after_its_model_string() -> None:
    model = RemoteModel("openai/gpt-4o-mini")
    assert isinstance(model, Model)
    assert (model.name, model.kind) == ("openai/gpt-4o-mini", "remote")
    assert RemoteModel("openai/x", name="big").name == "big"


def test_transient_503_is_retried_and_counted() -> None:
    with FaultServer([503, Reply(content="recovered")]) as server:
        completion = remote(server).complete("hi", max_tokens=7)
    assert (completion.text, completion.retries, completion.model) == (
        "recovered",
        1,
        "openai/fake",
    )
    assert len(server.requests) == 2
    sent = server.requests[1].body
    assert sent["max_tokens"] == 7 and sent["messages"] == [{"role": "user", "content": "hi"}]


def test_calls_reuse_one_connection() -> None:
    with FaultServer() as server:
        model = remote(server)
        for _ in range(5):
            model.complete("hi")
    assert len({r.client_port for r in server.requests}) == 1  # no client rebuilt per call


def test_retry_after_from_a_429_is_honoured_over_a_short_backoff() -> None:
    with FaultServer([Reply(429, retry_after="1"), 200]) as server:
        started = time.perf_counter()
        completion = remote(server).complete("hi")
        elapsed = time.perf_counter() - started
    assert completion.retries == 1
    gap = server.requests[1].received_at - server.requests[0].received_at
    assert gap >= 0.95 and elapsed >= 0.95  # FAST backoff alone would wait <= 0.02 s


def test_a_long_retry_after_is_capped() -> None:
    policy = RetryPolicy(initial_s=0.01, max_s=0.02, retry_after_max_s=0.2)
    with FaultServer([Reply(503, retry_after="3600"), 200]) as server:
        started = time.perf_counter()
        assert remote(server, retry=policy).complete("hi").retries == 1
    assert time.perf_counter() - started < 1.5


def test_retry_after_parses_seconds_dates_and_milliseconds() -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after({"Retry-After": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:25 GMT"}, now=now) == 5.0
    assert parse_retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:00 GMT"}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    with (
        FaultServer([Reply(status, content="bad field 'x'"), 200]) as server,
        pytest.raises(RemoteAPIError) as caught,
    ):
        remote(server).complete("hi")
    assert caught.value.status_code == status
    assert "bad field 'x'" in str(caught.value) and server.api_base in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_an_authentication_error_naming_the_variable(status: int) -> None:
    with (
        FaultServer([status, 200]) as server,
        pytest.raises(AuthenticationError, match=str(status)) as caught,
    ):
        remote(server).complete("hi")
    assert "OPENAI_API_KEY" in caught.value.hint
    assert len(server.requests) == 1


def test_server_errors_exhaust_retries_then_raise_with_status() -> None:
    with FaultServer(default=Reply(502)) as server, pytest.raises(RemoteAPIError) as caught:
        remote(server, max_retries=2).complete("hi")
    assert caught.value.status_code == 502 and len(server.requests) == 3


def test_connection_refused_is_unreachable_after_fast_retries(
    closed_port: int, debug_logs: pytest.LogCaptureFixture
) -> None:
    api_base = f"http://127.0.0.1:{closed_port}/v1"
    model = RemoteModel("openai/fake", api_base=api_base, api_key=KEY, max_retries=2, retry=FAST)
    started = time.perf_counter()
    with pytest.raises(ServerUnreachableError) as caught:
        model.complete("hi")
    assert time.perf_counter() - started < 2.0
    assert api_base in caught.value.message and "connection refused" in caught.value.message
    assert "collab serve" in caught.value.hint
    logged = [r.getMessage() for r in debug_logs.records if r.name == "collab.models.remote"]
    assert len([m for m in logged if m.startswith("retry ")]) == 2


def test_a_slow_server_times_out_with_the_timeout_named() -> None:
    with FaultServer(default=Reply(delay_s=3)) as server:
        started = time.perf_counter()
        with pytest.raises(ModelTimeoutError, match=r"timeout_s=0\.2"):
            remote(server, timeout_s=0.2, max_retries=1).complete("hi")
        elapsed = time.perf_counter() - started
    assert len(server.requests) == 2 and elapsed < 2.0


def test_fallback_answers_after_the_primary_exhausts_its_retries() -> None:
    with (
        FaultServer(default=Reply(500)) as primary,
        FaultServer([Reply(content="from backup")]) as backup,
    ):
        fallback = remote(backup, name="backup")
        completion = remote(primary, max_retries=1, fallbacks=[fallback]).complete("hi")
    assert (completion.model, completion.text) == ("backup", "from backup")
    assert completion.retries == 2  # two failed attempts on the primary
    assert (len(primary.requests), len(backup.requests)) == (2, 1)


def test_no_fallback_after_a_non_retryable_error() -> None:
    with FaultServer([400]) as primary, FaultServer() as backup:
        model = remote(primary, fallbacks=[remote(backup)])
        with pytest.raises(RemoteAPIError):
            model.complete("hi")
    assert backup.requests == []


def test_a_fallbacks_missing_key_is_reported_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with FaultServer() as server:
        model = remote(server, fallbacks=["anthropic/claude-3-5-haiku-20241022"])
        with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
            model.complete("hi")
    assert server.requests == []


def test_missing_key_is_detected_before_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    import_litellm()  # its import may open sockets of its own; the call must not
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"network used: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY") as caught:
        RemoteModel("openai/gpt-4o-mini").complete("hi")
    assert "OPENAI_API_KEY" in caught.value.hint and attempts == []


def test_unknown_provider_is_a_user_error_and_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(UserError, match="provider of model 'gpt-nonsense-zz'"):
        RemoteModel("gpt-nonsense-zz").complete("hi")
    assert capsys.readouterr().out == ""  # LiteLLM's "Provider List" banner is off


def test_schema_round_trip_through_a_self_hosted_server() -> None:
    answer = json.dumps({"name": "Paris", "country": "France"})
    with FaultServer([Reply(content=answer)]) as server:
        completion = remote(server).complete("capital of France?", schema=City)
    assert completion.parsed == City(name="Paris", country="France")
    sent = server.requests[0].body
    # openai/fake has no native schemas: JSON mode, the schema as a grammar and in the prompt
    assert sent["response_format"] == {"type": "json_object", "schema": City.model_json_schema()}
    assert sent["messages"][0]["role"] == "system" and '"country"' in sent["messages"][0]["content"]


def test_invalid_json_keeps_the_text() -> None:
    with (
        FaultServer([Reply(content="Paris, France")]) as server,
        pytest.raises(InvalidOutputError) as caught,
    ):
        remote(server).complete("capital?", schema=City)
    assert caught.value.text == "Paris, France"


def test_native_schema_is_strict_json_schema_for_models_that_support_it() -> None:
    answer = json.dumps({"name": "Rome", "country": "Italy"})
    with FaultServer([Reply(content=answer)]) as server:
        model = RemoteModel("openai/gpt-4o-mini", api_base=server.api_base, api_key=KEY)
        system = Message(role="system", content="Be brief.")
        completion = model.complete([system, Message(role="user", content="?")], schema=City)
    fmt = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["additionalProperties"] is False
    assert server.requests[0].body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert completion.parsed == City(name="Rome", country="Italy")


def test_stream_concatenates_deltas_and_takes_usage_from_the_last_chunk() -> None:
    with FaultServer([503, Reply(content="one two three", prompt_tokens=42)]) as server:
        stream = remote(server).stream("count")
        deltas = list(stream)
    assert deltas == ["one", " two", " three"]
    assert stream.completion is not None
    assert stream.completion.text == "one two three" and stream.completion.retries == 1
    assert stream.completion.usage.prompt_tokens == 42  # the server's count, not ours
    assert stream.completion.finish_reason == "stop"
    assert server.requests[1].body["stream_options"] == {"include_usage": True}


def test_stream_counts_tokens_when_the_server_sends_no_usage() -> None:
    with FaultServer([Reply(content="one two three", stream_usage=False)]) as server:
        model = remote(server)
        stream = model.stream("count")
        assert "".join(stream) == "one two three"
    assert stream.completion is not None
    assert stream.completion.usage.completion_tokens == model.count_tokens("one two three")
    assert stream.completion.usage.prompt_tokens > 0


async def test_acomplete_calls_run_concurrently() -> None:
    with FaultServer(default=Reply(content="slow", delay_s=0.4)) as server:
        model = remote(server)
        await model.acomplete("warm up")  # first-call set-up is not what is measured
        started = time.perf_counter()
        results = await asyncio.gather(model.acomplete("a"), model.acomplete("b"))
        elapsed = time.perf_counter() - started
    assert [r.text for r in results] == ["slow", "slow"]
    assert elapsed < 0.75  # two 0.4 s calls in sequence would take 0.8 s


async def test_astream_retries_opening_and_yields_deltas() -> None:
    with FaultServer([503, Reply(content="a b")]) as server:
        stream = remote(server).astream("hi")
        deltas = [d async for d in stream]
    assert deltas == ["a", " b"]
    assert stream.completion is not None and stream.completion.retries == 1


async def test_acomplete_maps_errors_like_complete() -> None:
    with FaultServer([404]) as server, pytest.raises(RemoteAPIError) as caught:
        await remote(server).acomplete("hi")
    assert caught.value.status_code == 404 and len(server.requests) == 1


def test_prediction_is_sent_where_supported_and_dropped_elsewhere() -> None:
    with FaultServer() as server:
        remote(server).complete("edit this", prediction="edit that")
    assert server.requests[0].body["prediction"] == {"type": "content", "content": "edit that"}
    litellm = import_litellm()
    call = Call([Message(role="user", content="x")], 5, 0.0, None, None, "expected")
    claude = Endpoint("anthropic/claude-3-5-haiku-20241022", None, KEY, 5.0, {})
    assert "prediction" not in build_request(
        claude, probe_provider(litellm, claude), call, stream=False
    )


def test_mock_response_is_priced_from_the_map_when_metered() -> None:
    model = RemoteModel("openai/gpt-4o-mini", api_key=KEY, extra={"mock_response": "pong"})
    assert model.complete("ping").cost_usd is None  # a backend prices only with its own prices
    with collab.Run():
        completion = collab.metered(model).complete("ping")
    info = import_litellm().model_cost["gpt-4o-mini"]
    expected = (
        completion.usage.prompt_tokens * info["input_cost_per_token"]
        + completion.usage.completion_tokens * info["output_cost_per_token"]
    )
    assert completion.text == "pong" and completion.usage.total_tokens > 0
    assert completion.cost_usd == pytest.approx(expected) and completion.cost_note is None


def test_model_prices_win_and_unmapped_models_cost_none() -> None:
    with FaultServer([Reply(prompt_tokens=1000, completion_tokens=2000), 200]) as server:
        priced = remote(server, prices=ModelPrice(1.0, 3.0)).complete("hi")
        with collab.Run():
            unpriced = collab.metered(remote(server)).complete("hi")
    assert priced.cost_usd == pytest.approx(0.007) and priced.cost_note is None
    assert unpriced.cost_usd is None
    assert unpriced.cost_note == "no price for 'openai/fake': pass prices=ModelPrice(...)"


def test_count_tokens_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    model = RemoteModel("someprovider-unknown/model-x")
    assert model.count_tokens("hello world, how are you") > 0

    def broken(**_: object) -> int:
        raise ValueError("no tokenizer")

    monkeypatch.setattr(import_litellm(), "token_counter", broken)
    assert model.count_tokens("a" * 40) == 10
    assert model.count_tokens("") == 0


@pytest.mark.parametrize("status", [401, 500])
def test_the_key_never_shows(
    status: int, debug_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultServer(default=Reply(status, content=f"bad key {KEY}")) as server:
        model = remote(server, max_retries=1)
        with pytest.raises(Exception) as caught:
            model.complete("hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    err = caught.value
    shown = [str(err), repr(err), "".join(traceback.format_exception(err)), repr(model)]
    shown += [debug_logs.text, *capsys.readouterr()]
    assert all(KEY not in text for text in shown)
    assert err.__cause__ is None and err.__context__ is None


def test_a_key_from_the_environment_never_shows(
    monkeypatch: pytest.MonkeyPatch, debug_logs: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FaultServer([Reply(401, content=f"key {KEY} is not valid")]) as server:
        model = RemoteModel("openai/fake", api_base=server.api_base)
        with pytest.raises(AuthenticationError) as caught:
            model.complete("hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in "".join(traceback.format_exception(caught.value)) + debug_logs.text


def test_importing_the_module_does_not_import_litellm() -> None:
    code = "import sys, collab.models.remote; print('litellm' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
    # The import-time report names every module loaded, one a line: "... |  name".
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "collab.models.remote" in loaded
    assert not {m for m in loaded if m == "litellm" or m.startswith("litellm.")}


def test_default_llm_checks_the_key_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from collab import MissingAPIKeyError
    from collab.models.default_llm import default_llm

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("COLLAB_LLM", "openai/gpt-4o-mini")
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"), default_llm():
        raise AssertionError("the body must not run without a key")
