"""Dict schemas are checked before they reach llama.cpp or a server, and outputs against them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fault_server import FaultServer, Reply

from collab.errors import InvalidOutputError, SchemaError
from collab.models.remote import RemoteModel, RetryPolicy
from collab.models.scripted import ScriptedModel
from collab.models.server_guard import SchemaGuard, schema_problem
from collab.structured import OutputSchema

UNUSABLE: dict[str, dict[str, Any]] = {
    "empty enum": {"type": "string", "enum": []},
    "minimum above maximum": {"type": "integer", "minimum": 5, "maximum": 3},
    "no integer in range": {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 4},
    "equal exclusive bounds": {"type": "number", "minimum": 2, "exclusiveMaximum": 2},
    "minLength above maxLength": {"type": "string", "minLength": 4, "maxLength": 2},
    "minItems above maxItems": {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 3,
        "maxItems": 1,
    },
    "enum of the wrong type": {"type": "string", "enum": [1, 2]},
    "empty anyOf": {"anyOf": []},
    "nested empty enum": {"type": "object", "properties": {"a": {"enum": []}}},
    "unknown type": {"type": "strnig"},
    "type not a string": {"type": 3},
    "required but closed": {
        "type": "object",
        "properties": {},
        "required": ["a"],
        "additionalProperties": False,
    },
    "NaN bound": {"type": "number", "maximum": float("nan")},
}


@pytest.mark.parametrize("name", UNUSABLE)
def test_unusable_schemas_are_schema_errors_naming_the_problem(name: str) -> None:
    with pytest.raises(SchemaError) as caught:
        OutputSchema.of(UNUSABLE[name])
    assert caught.value.message  # names where and what
    assert "#" in caught.value.message or "JSON" in caught.value.message


def test_the_messages_name_the_values() -> None:
    with pytest.raises(SchemaError, match="minimum 5 is above maximum 3"):
        OutputSchema.of({"type": "integer", "minimum": 5, "maximum": 3})
    with pytest.raises(SchemaError, match=r"#/properties/a has an empty 'enum'"):
        OutputSchema.of({"type": "object", "properties": {"a": {"enum": []}}})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "enum": ["a", "b"]},
        {"type": "integer", "minimum": 3, "maximum": 3},
        {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"type": ["integer", "string"], "enum": [1, "x"]},
    ],
)
def test_usable_schemas_pass(schema: dict[str, Any]) -> None:
    assert OutputSchema.of(schema).json_schema == schema


def test_outputs_are_validated_against_dict_schemas() -> None:
    checked = OutputSchema.of({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert checked.validate_text('{"a": 3}') == {"a": 3}
    with pytest.raises(InvalidOutputError, match="'wrong' is not of type 'integer' at a") as c:
        checked.validate_text('{"a": "wrong"}')
    assert c.value.text == '{"a": "wrong"}'
    bounded = OutputSchema.of({"type": "integer", "minimum": 0, "maximum": 9})
    with pytest.raises(InvalidOutputError, match="maximum"):
        bounded.validate_text("1001111111111111")


def test_a_remote_reply_that_breaks_a_dict_schema_is_invalid_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    with FaultServer([Reply(content='{"a": "wrong"}')]) as server:
        model = RemoteModel(
            "openai/fake", api_base=server.api_base, api_key="k", retry=RetryPolicy(0.01, 0.02)
        )
        with pytest.raises(InvalidOutputError) as caught:
            model.complete("a?", schema=schema)
    assert caught.value.text == '{"a": "wrong"}'


def test_a_bad_schema_never_reaches_the_server() -> None:
    with FaultServer() as server:
        model = RemoteModel("openai/fake", api_base=server.api_base, api_key="k")
        with pytest.raises(SchemaError, match="empty 'enum'"):
            model.complete("x", max_tokens=16, schema={"type": "string", "enum": []})
    assert server.requests == []


def test_scripted_models_check_schemas_too() -> None:
    model = ScriptedModel(["7"])
    with pytest.raises(SchemaError):
        model.complete("x", schema={"type": "integer", "minimum": 5, "maximum": 3})


def test_the_server_guard_refuses_a_bad_schema_and_passes_the_rest() -> None:
    bad = {"response_format": {"type": "json_object", "schema": {"type": "string", "enum": []}}}
    nested = {"response_format": {"type": "json_schema", "json_schema": {"schema": {"enum": []}}}}
    good = {"response_format": {"type": "json_object", "schema": {"type": "string"}}}
    assert "empty 'enum'" in (schema_problem(json.dumps(bad).encode()) or "")
    assert schema_problem(json.dumps(nested).encode()) is not None
    assert schema_problem(json.dumps(good).encode()) is None
    assert schema_problem(b"not json") is None

    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call(body: dict[str, Any]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        messages = [{"type": "http.request", "body": json.dumps(body).encode()}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": "/v1/chat/completions", "method": "POST"}
        await SchemaGuard(app)(scope, receive, send)
        return sent

    refused = asyncio.run(call(bad))
    assert refused[0]["status"] == 400 and b"empty 'enum'" in refused[1]["body"]
    assert reached == []
    passed = asyncio.run(call(good))
    assert passed[0]["status"] == 200 and reached == [json.dumps(good).encode()]
