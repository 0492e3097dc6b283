"""An ASGI guard in front of the embedded server: refuses, with a 400, a request whose JSON
schema llama.cpp would crash on (the server process dies with it, and every later call finds
the port closed)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from collab.errors import SchemaError
from collab.structured import OutputSchema

__all__ = ["SchemaGuard", "schema_problem"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_GUARDED_PATHS = ("/v1/chat/completions", "/v1/completions")


def schema_problem(body: bytes) -> str | None:
    """Why the JSON schema of a completion request body is unusable, or ``None``."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None  # the server itself answers malformed JSON with a 422
    response_format = request.get("response_format") if isinstance(request, dict) else None
    if not isinstance(response_format, dict):
        return None
    schema = response_format.get("schema")
    if schema is None and isinstance(response_format.get("json_schema"), dict):
        schema = response_format["json_schema"].get("schema")
    if schema is None:
        return None
    try:
        OutputSchema.of(schema)
    except SchemaError as exc:
        return exc.message
    return None


class SchemaGuard:
    """Wraps the server's ASGI app; passes every request through unchanged but those it refuses."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in _GUARDED_PATHS:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        problem = schema_problem(body)
        if problem is not None:
            payload = json.dumps({"error": {"message": problem, "type": "invalid_schema"}})
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload.encode()})
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
