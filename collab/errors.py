"""The one exception hierarchy of collab.

```
CollabError                      root: catch this to catch everything collab raises
├── UserError                    misuse: fix the call or the configuration
│   ├── UnknownModelError        a catalog name that does not exist (suggests close names)
│   ├── SchemaError              an output schema that is not a pydantic model or JSON schema
│   ├── PromptError              a prompt that is not text or messages, or not valid Unicode
│   └── MissingAPIKeyError       a provider key that is not set
├── ModelFileError               a model file on disk that cannot be used
│   ├── ModelFileMissingError    no file at the path
│   └── ModelFileCorruptError    not GGUF, truncated, or a checksum mismatch
├── PullError                    fetching a model from its source failed
├── ModelCallError               a model call failed at run time
│   ├── ServerUnreachableError   nothing answers at the endpoint
│   ├── ModelTimeoutError        the call took longer than its timeout
│   ├── RemoteAPIError           the provider answered with an error
│   │   ├── AuthenticationError  the provider rejected the API key (401 / 403)
│   │   └── MalformedResponseError  an answer that is not a usable completion
│   └── InvalidOutputError       the model's output is not valid JSON / does not match the schema
├── ToolArgumentsError           a tool call's arguments do not match the tool's parameters
├── ServerStartError             the embedded server did not come up
└── BudgetExceeded               a call would cross a budget limit
```

Every error carries a ``hint``: what to do about it. Creating an error has no side effects.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "CollabError",
    "InvalidOutputError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "ModelCallError",
    "ModelFileCorruptError",
    "ModelFileError",
    "ModelFileMissingError",
    "ModelTimeoutError",
    "PromptError",
    "PullError",
    "RemoteAPIError",
    "SchemaError",
    "ServerStartError",
    "ServerUnreachableError",
    "ToolArgumentsError",
    "UnknownModelError",
    "UserError",
]


class CollabError(Exception):
    """Root of every error collab raises; ``hint`` says how to fix it."""

    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UserError(CollabError):
    """The call or the configuration is wrong."""


class UnknownModelError(UserError):
    """A model name that the catalog does not know."""

    def __init__(self, name: str, *, suggestions: list[str], known: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        close = f"did you mean {', '.join(repr(s) for s in suggestions)}? " if suggestions else ""
        super().__init__(
            f"unknown model {name!r}",
            hint=f"{close}`collab models list` shows the catalog ({', '.join(known)})",
        )


class SchemaError(UserError):
    """An output schema that collab cannot turn into a grammar or a validator."""

    default_hint = "pass a pydantic BaseModel subclass or a JSON schema dict with a 'type'"


class PromptError(UserError):
    """A prompt that is not a string or a list of messages, a message with an unknown role or
    no text, or text that is not valid Unicode."""


class MissingAPIKeyError(UserError):
    """A provider key that the model string needs is not set in the environment."""


class ModelFileError(CollabError):
    """A model file on disk that cannot be loaded."""


class ModelFileMissingError(ModelFileError):
    """No model file at the given path."""


class ModelFileCorruptError(ModelFileError):
    """A file that is not GGUF, is truncated, or fails its checksum."""


class PullError(CollabError):
    """Fetching a model from its source failed; nothing half-written was kept."""


class ModelCallError(CollabError):
    """A model call failed at run time; ``attempts`` counts the requests sent for it
    (fallbacks' included) and ``retries`` those after the first."""

    attempts: int = 1

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)


class ServerUnreachableError(ModelCallError):
    """Nothing answers at the model's endpoint."""


class ModelTimeoutError(ModelCallError):
    """The call took longer than its timeout."""


class RemoteAPIError(ModelCallError):
    """The provider answered with an error status."""

    def __init__(self, message: str, *, status_code: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status_code = status_code


class AuthenticationError(RemoteAPIError):
    """The provider rejected the API key (401 / 403): it is set, but wrong, expired or lacks
    access to the model."""


class MalformedResponseError(RemoteAPIError):
    """The provider answered, but not with a usable completion: JSON that does not parse, no
    choices, or a stream cut midway."""


class InvalidOutputError(ModelCallError):
    """The model's output is not valid JSON or does not match the schema; ``text`` keeps it."""

    def __init__(self, message: str, *, text: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.text = text


class ToolArgumentsError(CollabError):
    """A tool was called with arguments that do not match its parameters; ``tool`` names it."""

    def __init__(self, message: str, *, tool: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tool = tool


class ServerStartError(CollabError):
    """The embedded OpenAI-compatible server did not come up."""


class BudgetExceeded(CollabError):
    """A call would cross a budget limit; names the limit, what was spent and what was needed."""
