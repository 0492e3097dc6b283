"""Secret scrubbing: API keys never reach a message, a repr or a log line."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "LOG_FILTER",
    "REDACTED",
    "SecretLogFilter",
    "redact",
    "remember_secrets",
    "secrets_in",
    "secrets_in_env",
    "secrets_in_url",
]

REDACTED = "***"
"""What a secret is replaced with."""

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|AUTH", re.IGNORECASE)
_MIN_SECRET_LEN = 6
"""Shorter values (flags like "1" or "true") are not secrets and would garble every message."""

_remembered: set[str] = set()
"""Secrets given to collab in code (``remember_secrets``)."""
_remembered_lock = threading.Lock()

_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),  # OpenAI / Anthropic style keys
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]+=*"),  # Authorization header values
    re.compile(r"(?i)\b((?:api[_-]?)?key|token|secret|password)=[^&\s'\"]+"),  # ?key=... in URLs
    re.compile(r"(?i)\b(x-api-key|api-key)(['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+"),  # header dumps
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s'\"]*):[^@/\s'\"]+@"),  # user:password@ in URLs
)


def secrets_in_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret (KEY, TOKEN, ...)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN]


def secrets_in_url(url: str | None) -> list[str]:
    """The password of a URL's ``user:password@`` part, if it has one."""
    if not url:
        return []
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed port: the URL is reported as it is, masked by pattern
        return []
    return [unquote(password), password] if password else []


def secrets_in(values: Mapping[str, Any]) -> list[str]:
    """String values under secret-sounding keys of a (possibly nested) mapping."""
    found: list[str] = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            found.extend(secrets_in(value))
        elif isinstance(value, str) and _SECRET_NAME.search(str(key)):
            found.append(value.removeprefix("Bearer ").strip())
    return [s for s in found if len(s) >= _MIN_SECRET_LEN]


def remember_secrets(secrets: Iterable[str | None]) -> None:
    """Mask ``secrets`` in every ``redact`` from now on, and so in LiteLLM's logs
    (``LOG_FILTER``): how a key passed in code (``RemoteModel(api_key=...)``) is masked in
    text that never passes through its model."""
    with _remembered_lock:
        _remembered.update(s for s in secrets if s and len(s) >= _MIN_SECRET_LEN)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given and the remembered secrets, secret env values and key-like
    patterns masked."""
    known = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}
    with _remembered_lock:
        known.update(_remembered)
    known.update(secrets_in_env())
    # Longest first, so a key that contains another is masked whole.
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _PATTERNS[3].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _PATTERNS[4].sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)


class SecretLogFilter(logging.Filter):
    """Passes every record of the loggers it is added to through ``redact``: message,
    arguments and traceback.

    For loggers collab does not own: LiteLLM logs (at DEBUG) what a provider answered, a key
    the provider echoes included, and masks only the keys whose shape it knows.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: left for its handler to report
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        return True


LOG_FILTER = SecretLogFilter()
"""The one filter: ``collab.litellm_import`` adds it to LiteLLM's loggers."""
