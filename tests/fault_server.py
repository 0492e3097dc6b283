"""A loopback OpenAI-compatible chat server that fails on cue, for tests of remote calls.

Each request to ``POST /v1/chat/completions`` takes the next entry of the script: a status code
(``[503, 200]``) or a ``Reply`` (status, content, ``Retry-After``, delay). Once the script runs
out, every request gets ``default``. A request with ``"stream": true`` that gets a 200 is answered
as server-sent events, one chunk per word, with a usage chunk when the client asked for it.
``Reply(usage=False)`` leaves usage out of a 200; ``Reply(fault="empty_choices")`` answers a 200
with ``choices: []`` (usage kept, as a provider that billed the call reports it).

    with FaultServer([503, 200]) as server:
        RemoteModel("openai/fake", api_base=server.api_base, api_key="k").complete("hi")
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["FaultServer", "RecordedRequest", "Reply"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    content: str = "hello from the fault server"
    """The assistant text of a 200, or the error message of any other status."""
    retry_after: str | None = None
    """Value of the ``Retry-After`` header (seconds or an HTTP-date), if any."""
    delay_s: float = 0.0
    """Seconds to wait before answering (to provoke client timeouts)."""
    prompt_tokens: int = 11
    completion_tokens: int | None = None
    """Reported completion tokens; ``None`` counts the words of ``content``."""
    stream_usage: bool = True
    """Whether a streamed answer ends with a usage chunk when the client asks for one."""
    fault: Literal["empty_choices"] | None = None
    """How the answer goes wrong, beyond its status (see the module docstring)."""
    usage: bool = True
    """Whether a non-streamed 200 reports usage."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: dict[str, Any]
    client_port: int = 0
    """The client's source port: the same port means a reused (keep-alive) connection."""
    received_at: float = field(default_factory=time.monotonic)


class FaultServer:
    """Context manager running the server on 127.0.0.1 on a free port, in a daemon thread."""

    def __init__(self, script: Iterable[int | Reply] = (), *, default: Reply | None = None) -> None:
        self._script = [r if isinstance(r, Reply) else Reply(status=r) for r in script]
        self._default = default or Reply()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.requests: list[RecordedRequest] = []
        """Every request received, in order."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def api_base(self) -> str:
        """The base URL an OpenAI client takes (``http://127.0.0.1:<port>/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes handlers that are sleeping out a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            index = len(self.requests) - 1
            return self._script[index] if index < len(self._script) else self._default

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds``; False when the server is closing meanwhile."""
        return not self._closing.wait(seconds)


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: clients reuse connections
        disable_nagle_algorithm = True  # else headers and body wait on a 40 ms delayed ACK

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded = RecordedRequest(self.path, headers, body, self.client_address[1])
            reply = server._next(recorded)
            if reply.delay_s and not server._wait(reply.delay_s):
                return
            try:
                if reply.status != 200:
                    self._send_error(reply)
                elif reply.fault == "empty_choices":
                    self._send_json(200, {**_completion_body(reply, body), "choices": []})
                elif body.get("stream"):
                    self._send_stream(reply, body)
                else:
                    self._send_json(200, _completion_body(reply, body))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to answer

        def _send_json(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_error(self, reply: Reply) -> None:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
            error = {"message": reply.content, "type": "fault_server", "code": reply.status}
            self._send_json(reply.status, {"error": error}, headers)

        def _send_stream(self, reply: Reply, body: dict[str, Any]) -> None:
            # No Content-Length: the end of the body is the end of the connection.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for chunk in _stream_chunks(reply, body):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def _usage(reply: Reply) -> dict[str, int]:
    completion = (
        reply.completion_tokens
        if reply.completion_tokens is not None
        else len(reply.content.split())
    )
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
    }


def _completion_body(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fault"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
        **({"usage": _usage(reply)} if reply.usage else {}),
    }


def _stream_chunks(reply: Reply, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fault"),
    }
    words = reply.content.split(" ")
    for i, word in enumerate(words):
        delta: dict[str, Any] = {"content": word if i == 0 else " " + word}
        if i == 0:
            delta["role"] = "assistant"
        yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    if include_usage and reply.stream_usage:
        yield {**base, "choices": [], "usage": _usage(reply)}
