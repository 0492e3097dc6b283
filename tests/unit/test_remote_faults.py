"""Every fault of the loopback fault server: bounded retries, the right error, no key in sight."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator

import pytest
from fault_server import FaultServer, Reply

from collab.errors import (
    AuthenticationError,
    CollabError,
    MalformedResponseError,
    MissingAPIKeyError,
    ModelCallError,
    ModelTimeoutError,
    RemoteAPIError,
    ServerUnreachableError,
    UserError,
)
from collab.models.remote import RemoteModel, RetryPolicy
from collab.tracing import JsonlTrace

KEY = "sk-fault-KEY0123456789"
PASSWORD = "hunter2-pw"
FAST = RetryPolicy(initial_s=0.01, max_s=0.02, retry_after_max_s=0.2)
MAX_RETRIES = 2
LOGGERS = ("", "collab", "LiteLLM", "openai", "httpx", "httpcore")


def remote(server: FaultServer, **kwargs: object) -> RemoteModel:
    options: dict[str, object] = {
        "api_key": KEY,
        "retry": FAST,
        "max_retries": MAX_RETRIES,
        "timeout_s": 1.0,
        **kwargs,
    }
    return RemoteModel("openai/fake", api_base=server.api_base, **options)  # type: ignore[arg-type]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog


def shown(error: BaseException) -> str:
    """Everything a user could see of an error: message, hint, repr and traceback."""
    return "\n".join(
        [str(error), repr(error), getattr(error, "hint", ""), *traceback.format_exception(error)]
    )


# (reply, expected error class, requests the server sees with max_retries=2)
FAULTS = {
    "429 with Retry-After": (Reply(429, retry_after="0"), RemoteAPIError, 3),
    "500": (Reply(500), RemoteAPIError, 3),
    "503": (Reply(503), RemoteAPIError, 3),
    "connection reset": (Reply(fault="reset"), ServerUnreachableError, 3),
    "hang past the timeout": (Reply(delay_s=3.0), ModelTimeoutError, 3),
    "malformed JSON": (Reply(fault="malformed"), MalformedResponseError, 3),
    "empty choices": (Reply(fault="empty_choices"), MalformedResponseError, 1),
    "401 echoing the key": (Reply(401, echo_key=True), AuthenticationError, 1),
    "403": (Reply(403, echo_key=True), AuthenticationError, 1),
    "400 echoing the key": (Reply(400, echo_key=True), RemoteAPIError, 1),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_gives_its_error_after_bounded_attempts_and_never_the_key(
    fault: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    reply, expected, requests = FAULTS[fault]
    with FaultServer(default=reply) as server, pytest.raises(expected) as caught:
        remote(server).complete("hi")
    assert len(server.requests) == requests
    assert caught.value.attempts == requests and caught.value.retries == requests - 1
    assert KEY not in shown(caught.value) and KEY not in debug_logs.text
    if reply.status == 200:  # the server never said 500: the error must not claim it did
        assert "answered 500" not in str(caught.value)


@pytest.mark.parametrize("fault", ["malformed JSON", "connection reset", "503"])
async def test_async_calls_fail_alike(fault: str) -> None:
    reply, expected, requests = FAULTS[fault]
    with FaultServer(default=reply) as server, pytest.raises(expected) as caught:
        await remote(server).acomplete("hi")
    assert len(server.requests) == requests and caught.value.attempts == requests


def test_a_malformed_answer_says_so() -> None:
    with (
        FaultServer(default=Reply(fault="malformed")) as server,
        pytest.raises(MalformedResponseError, match="malformed response") as caught,
    ):
        remote(server, max_retries=0).complete("hi")
    assert caught.value.status_code is None


def test_empty_choices_keep_the_billed_usage_for_the_meter() -> None:
    with (
        FaultServer([Reply(fault="empty_choices", prompt_tokens=7)]) as server,
        pytest.raises(MalformedResponseError, match="no choices") as caught,
    ):
        remote(server).complete("hi")
    billed = caught.value.billed  # type: ignore[attr-defined]
    assert billed.usage.prompt_tokens == 7


def test_a_rejected_key_is_an_authentication_error_not_a_missing_key() -> None:
    with FaultServer([401]) as server, pytest.raises(RemoteAPIError) as caught:
        remote(server).complete("hi")
    assert isinstance(caught.value, AuthenticationError)
    assert not isinstance(caught.value, MissingAPIKeyError | UserError)
    assert caught.value.status_code == 401 and "OPENAI_API_KEY" in caught.value.hint


def test_attempts_of_the_primary_and_its_fallbacks_add_up() -> None:
    with FaultServer(default=Reply(503)) as primary, FaultServer(default=Reply(502)) as backup:
        model = remote(primary, fallbacks=[remote(backup, max_retries=1)])
        with pytest.raises(RemoteAPIError) as caught:
            model.complete("hi")
    assert (len(primary.requests), len(backup.requests)) == (3, 2)
    assert caught.value.attempts == 5 and caught.value.retries == 4


def test_a_non_retryable_fallback_error_counts_the_primarys_attempts() -> None:
    with (
        FaultServer(default=Reply(503)) as primary,
        FaultServer([401]) as backup,
        pytest.raises(AuthenticationError) as caught,
    ):
        remote(primary, fallbacks=[remote(backup)]).complete("hi")
    assert caught.value.attempts == 4


def test_a_stream_cut_midway_says_how_far_it_got() -> None:
    reply = Reply(content="one two three four five six", fault="cut", cut_after=3)
    with FaultServer([reply]) as server:
        stream = remote(server).stream("hi")
        got: list[str] = []
        with pytest.raises(MalformedResponseError, match="stream cut after 3 tokens") as caught:
            got.extend(stream)
    assert "".join(got) == "one two three"
    assert "answered 500" not in str(caught.value) and KEY not in shown(caught.value)


async def test_an_async_stream_cut_midway_says_how_far_it_got() -> None:
    reply = Reply(content="one two three four five six", fault="cut", cut_after=2)
    with FaultServer([reply]) as server:
        got: list[str] = []
        with pytest.raises(MalformedResponseError, match="stream cut after 2 tokens"):
            async for delta in remote(server).astream("hi"):
                got.append(delta)
    assert "".join(got) == "one two"


@pytest.mark.parametrize("bad", [0, -1, -1e6, 2.5, True, None, "16"])
def test_max_tokens_must_be_a_positive_int_before_any_request(bad: object) -> None:
    with FaultServer() as server:
        model = remote(server)
        with pytest.raises(UserError, match="max_tokens"):
            model.complete("hi", max_tokens=bad)  # type: ignore[arg-type]
        with pytest.raises(UserError, match="max_tokens"):
            model.stream("hi", max_tokens=bad)  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "hot", None])
async def test_sampling_parameters_are_checked_before_any_request(bad: object) -> None:
    with FaultServer() as server, pytest.raises(UserError, match="temperature"):
        await remote(server).acomplete("hi", temperature=bad)  # type: ignore[arg-type]
    assert server.requests == []


def test_a_password_in_api_base_shows_nowhere(
    debug_logs: pytest.LogCaptureFixture, tmp_path: object
) -> None:
    from pathlib import Path

    from collab.budget.metered import metered
    from collab.budget.run import Run

    trace_path = Path(str(tmp_path)) / "trace.jsonl"
    with FaultServer([Reply(500, echo_key=True), 200, 401]) as server:
        api_base = server.api_base.replace("http://", f"http://user:{PASSWORD}@")
        bare = RemoteModel("openai/fake", api_base=api_base, retry=FAST, max_retries=0)
        model = metered(bare)  # so the calls reach the ledger and the trace
        seen = [repr(bare), repr(model)]
        with JsonlTrace(trace_path) as trace, Run() as run:
            unsubscribe = run.on_event(trace)
            with pytest.raises(RemoteAPIError) as first:
                model.complete("hi")
            model.complete("hi")
            with pytest.raises(AuthenticationError) as rejected:
                model.complete("hi")
            unsubscribe()
        seen += [shown(first.value), shown(rejected.value), run.ledger.model_dump_json()]
    seen += [trace_path.read_text(), debug_logs.text]
    assert server.requests, "the requests reached the server"
    assert len(json.loads(seen[-3])["records"]) == 3, "every call is in the ledger"
    for text in seen:
        assert PASSWORD not in text
    assert "user:***@" in seen[0]


def test_every_remote_failure_is_a_collab_error() -> None:
    assert issubclass(AuthenticationError, RemoteAPIError)
    assert issubclass(MalformedResponseError, RemoteAPIError)
    assert issubclass(RemoteAPIError, ModelCallError) and issubclass(ModelCallError, CollabError)
    assert json.dumps({"attempts": ModelCallError("x").attempts}) == '{"attempts": 1}'
