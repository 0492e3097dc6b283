"""Secret scrubbing: known keys, secret-named env vars and key-shaped strings are masked."""

from __future__ import annotations

import logging

import pytest

from collab.redaction import (
    REDACTED,
    SecretLogFilter,
    redact,
    remember_secrets,
    secrets_in,
    secrets_in_env,
)


def test_known_secrets_are_masked_longest_first() -> None:
    text = redact("key=abcdefgh1234 and abcdefgh", ["abcdefgh", "abcdefgh1234"])
    assert "abcdefgh" not in text and text.count(REDACTED) == 2


def test_secret_named_env_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-987654321")
    monkeypatch.setenv("SOME_FLAG", "visible-value")
    monkeypatch.setenv("OTHER_KEY", "1")  # too short to be a secret: left alone
    assert "tok-987654321" in secrets_in_env()
    out = redact("token tok-987654321, flag visible-value, n=1")
    assert out == f"token {REDACTED}, flag visible-value, n=1"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Incorrect API key provided: sk-proj-AbC123xyz789", "AbC123xyz789"),
        ("headers={'Authorization': 'Bearer abc.def-ghi_123'}", "abc.def-ghi_123"),
        ("GET https://x.test/v1?api_key=zzz999yyy&a=1", "zzz999yyy"),
        ("{'x-api-key': 'anthropic-secret-value'}", "anthropic-secret-value"),
    ],
)
def test_key_shaped_strings_are_masked_without_being_known(text: str, leak: str) -> None:
    out = redact(text)
    assert leak not in out and REDACTED in out


def test_ordinary_text_is_untouched() -> None:
    text = "openai/gpt-4o-mini at http://127.0.0.1:8080/v1 answered 503: overloaded"
    assert redact(text) == text


def test_secrets_in_finds_nested_secret_named_values() -> None:
    extra = {"top_p": 0.9, "extra_headers": {"Authorization": "Bearer hdr-secret-1"}, "seed": 7}
    assert secrets_in(extra) == ["hdr-secret-1"]


def test_remembered_secrets_are_masked_from_then_on() -> None:
    secret = "remembered-shapeless-0d9c"
    assert redact(f"echo {secret}") == f"echo {secret}"  # no shape a pattern knows
    remember_secrets([secret, None, "short"])
    assert redact(f"echo {secret}") == f"echo {REDACTED}"
    assert redact("short and sweet") == "short and sweet"  # too short to be a secret


def test_the_log_filter_masks_message_arguments_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "logged-shapeless-7e1f"
    remember_secrets([secret])
    logger = logging.getLogger("collab.tests.foreign")
    logger.addFilter(SecretLogFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.debug("provider said: %s", f"bad key {secret}")
        try:
            raise ValueError(f"rejected {secret}")
        except ValueError:
            logger.exception("call failed")
    assert secret not in caplog.text
    assert f"provider said: bad key {REDACTED}" in caplog.text
    assert f"ValueError: rejected {REDACTED}" in caplog.text


def test_the_log_filter_leaves_a_malformed_record_to_its_handler() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "%s %s", ("one",), None)
    assert SecretLogFilter().filter(record) is True
    assert (record.msg, record.args) == ("%s %s", ("one",))
