"""End to end: an API key sent to a provider shows nowhere a user, a log or a file could see it.

A ``RemoteModel`` calls a loopback fault server inside a traced ``Run`` (JSONL trace and live
view), with every logger at DEBUG. The server echoes the key in its error messages, as real
providers do ("Incorrect API key provided: sk-..."). Each case first checks that the key
really went out in the ``Authorization`` header, so that a leak would have something to leak.

Two keys: one shaped like OpenAI's (``sk-...``), which pattern matching alone would mask, and
one of no known shape (a self-hosted server's token, say), which only the key collab was
given (or found in the environment) can mask.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_server import FaultServer, Reply  # tests/ is on sys.path: conftest.py lives there
from rich.console import Console

import collab
from collab.errors import AuthenticationError, CollabError, RemoteAPIError
from collab.litellm_import import import_litellm
from collab.models.retry import RetryPolicy
from collab.tracing import trace_run

MIDDLE = "FAKEKEY-1234567890abcdef"
"""Part of both keys: what a mask that caught only a key's prefix would leave."""
KEYS = {"sk-shaped": f"sk-test-{MIDDLE}", "shapeless": f"test-{MIDDLE}"}
FAST = RetryPolicy(initial_s=0.001, max_s=0.002, retry_after_max_s=0.01)
MAX_RETRIES = 2


def replies(key: str) -> dict[str, tuple[Reply, type[CollabError] | None, int]]:
    """Each case: the server's answer to every request, the error expected, requests sent."""
    return {
        "ok": (Reply(content="the answer"), None, 1),
        "401 echoing the key": (
            Reply(401, content=f"Incorrect API key provided: {key}. Find your key at example.com"),
            AuthenticationError,
            1,
        ),
        "500 until the retries run out": (
            Reply(500, content=f"internal error while serving key {key}"),
            RemoteAPIError,
            MAX_RETRIES + 1,
        ),
    }


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger's records down to DEBUG, LiteLLM's and the HTTP clients' too."""
    import_litellm()  # so that its loggers exist
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def what_error_shows(error: BaseException) -> str:
    shown = ["".join(traceback.format_exception(error))]
    for e in exception_chain(error):
        shown += [str(e), repr(e), repr(e.args), repr(vars(e)), str(getattr(e, "hint", ""))]
    return "\n".join(shown)


@pytest.mark.parametrize("reply", list(replies("")))
@pytest.mark.parametrize("key_from", ["api_key=", "environment"])
@pytest.mark.parametrize("key_shape", list(KEYS))
def test_the_key_shows_nowhere(
    key_shape: str,
    key_from: str,
    reply: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    every_log: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    key = KEYS[key_shape]
    answer, expected_error, requests = replies(key)[reply]
    options: dict[str, str] = {}
    if key_from == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", key)
    else:  # and not in the environment: masking it must not depend on that
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        options["api_key"] = key
    trace, screen = tmp_path / "t.jsonl", io.StringIO()
    error: CollabError | None = None

    with FaultServer(default=answer) as server:
        model = collab.metered(
            collab.RemoteModel(
                "openai/x", api_base=server.api_base, max_retries=MAX_RETRIES, retry=FAST, **options
            )
        )
        run = collab.Run()
        console = Console(file=screen, width=120)
        try:
            with run, trace_run(run, jsonl=trace, live=True, console=console):
                completion = model.complete("what is the capital of France?", max_tokens=8)
        except CollabError as raised:
            error = raised

    assert len(server.requests) == requests
    assert all(r.headers["authorization"] == f"Bearer {key}" for r in server.requests)
    if expected_error is None:
        assert error is None and completion.text == "the answer"
    else:
        assert isinstance(error, expected_error)
    [record] = run.ledger.records
    assert record.outcome == ("ok" if expected_error is None else "error")
    assert "openai/x" in trace.read_text() and "openai/x" in screen.getvalue()  # both saw it
    assert "HTTP Request: POST" in every_log.text  # the HTTP clients' logs were captured

    shown = {
        "trace": trace.read_text(),
        "ledger": run.ledger.to_json(),
        "live view": screen.getvalue(),
        "logs": every_log.text,
        "log records": repr([(r.msg, r.args) for r in every_log.records]),
        "stdout/stderr": "".join(capfd.readouterr()),
        "repr(model)": repr(model),
        "error": what_error_shows(error) if error is not None else "",
    }
    assert [where for where, text in shown.items() if key in text or MIDDLE in text] == []


@pytest.mark.parametrize("key_shape", list(KEYS))
def test_any_backend_s_failure_is_recorded_without_the_key(
    key_shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = KEYS[key_shape]
    if key_shape == "shapeless":  # known to be a key only by where it comes from
        monkeypatch.setenv("MY_PROVIDER_TOKEN", key)
    model = collab.metered(
        collab.ScriptedModel([PermissionError(f"token {key} was revoked")], kind="remote")
    )
    run = collab.Run()
    with run, trace_run(run, jsonl=tmp_path / "t.jsonl"), pytest.raises(PermissionError):
        model.complete("hi")
    [record] = run.ledger.records
    assert record.error == "PermissionError: token *** was revoked"
    assert MIDDLE not in run.ledger.to_json() and MIDDLE not in (tmp_path / "t.jsonl").read_text()
