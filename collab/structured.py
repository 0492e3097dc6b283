"""Output schemas: a pydantic model or a JSON schema, turned into a JSON schema and a validator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from collab.errors import InvalidOutputError, SchemaError
from collab.schema_checks import check_json_schema, validation_error

__all__ = ["OutputSchema", "Schema"]

Schema = type[BaseModel] | dict[str, Any]
"""What ``schema=`` accepts: a pydantic model class or a JSON schema dict."""


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """A checked output schema: its JSON schema and how to validate text against it."""

    json_schema: dict[str, Any]
    model: type[BaseModel] | None
    name: str

    @classmethod
    def of(cls, schema: Schema) -> OutputSchema:
        """Check ``schema``; raises ``SchemaError`` naming what is wrong."""
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return cls(schema.model_json_schema(), schema, schema.__name__)
        if isinstance(schema, dict):
            if "type" not in schema and "$ref" not in schema and "anyOf" not in schema:
                raise SchemaError(f"JSON schema has no type, $ref or anyOf: {schema!r:.200}")
            try:
                json.dumps(schema, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"JSON schema is not JSON-serialisable: {exc}") from None
            check_json_schema(schema)
            return cls(schema, None, str(schema.get("title", "output")))
        raise SchemaError(f"schema must be a pydantic model class or a dict, got {schema!r:.200}")

    def validate_text(self, text: str) -> Any:
        """Parse ``text`` as JSON and validate it; ``InvalidOutputError`` keeps the text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidOutputError(
                f"model output is not valid JSON ({exc.msg} at char {exc.pos}): {text[:200]!r}",
                text=text,
                hint="raise max_tokens if the output was cut off, or use a stronger model",
            ) from None
        if self.model is None:
            problem = validation_error(self.json_schema, data)
            if problem is not None:
                raise InvalidOutputError(
                    f"model output does not match {self.name}: {problem}",
                    text=text,
                    hint="the model's JSON is kept in the error's .text",
                )
            return data
        try:
            return TypeAdapter(self.model).validate_python(data)
        except ValidationError as exc:
            raise InvalidOutputError(
                f"model output does not match {self.name}: {exc.errors()[0]['msg']} "
                f"at {'.'.join(map(str, exc.errors()[0]['loc'])) or 'top level'}",
                text=text,
                hint="the model's JSON is kept in the error's .text",
            ) from None
