"""collab.pii: each detector finds its kind, checksums reject look-alikes, placeholders restore."""

from __future__ import annotations

import pytest

from collab.pii import Redactor, luhn_valid, restore


def kinds(text: str) -> dict[str, int]:
    return Redactor().redact([text]).counts


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to ada.lovelace+work@example.co.uk today", "EMAIL"),
        ("call +44 20 7946 0958 now", "PHONE"),
        ("call (555) 123-4567 now", "PHONE"),
        ("call 06 12 34 56 78 now", "PHONE"),
        ("card 4111 1111 1111 1111 please", "CARD"),
        ("card 5500-0000-0000-0004 please", "CARD"),
        ("card 378282246310005 please", "CARD"),
        ("iban GB82 WEST 1234 5698 7654 32 ok", "IBAN"),
        ("iban DE89370400440532013000 ok", "IBAN"),
        ("key sk-proj-abcdefghijklmnopqrstuv123 ok", "API_KEY"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok", "API_KEY"),
        ("aws AKIAIOSFODNN7EXAMPLE ok", "API_KEY"),
        ("Authorization: Bearer abcdefghijklmnop.qrstuv ok", "API_KEY"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_nature ok", "API_KEY"),
        ("host 192.168.1.20 down", "IP"),
        ("host 2001:db8::8a2e:370:7334 down", "IP"),
    ],
)
def test_each_detector_finds_its_kind(text: str, kind: str) -> None:
    assert kinds(text) == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 fails Luhn",
        "iban DE89370400440532013001 fails mod 97",
        "version 999.1.1.1 is not an address",
        "on 2024-01-15 at 10:30",
        "order 12345 of 3 items",
        "an email-like a@b without a domain",
        "sk-short is not a key",
        "the year 1889 and 42 million euros",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert kinds(text) == {}


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("4012 8888 8888 1881")
    assert not luhn_valid("4111111111111112") and not luhn_valid("12345")


def test_one_value_one_placeholder_across_messages_numbered_per_type() -> None:
    done = Redactor(names=["Ada Lovelace", "Ada"]).redact(
        ["Ada Lovelace <ada@x.org> and bob@y.org", "Reply to ada@x.org; Ada agrees."]
    )
    assert done.texts == [
        "<NAME_1> <<EMAIL_1>> and <EMAIL_2>",
        "Reply to <EMAIL_1>; <NAME_2> agrees.",
    ]
    assert done.counts == {"NAME": 2, "EMAIL": 2}
    assert done.values == {
        "<NAME_1>": "Ada Lovelace",
        "<EMAIL_1>": "ada@x.org",
        "<EMAIL_2>": "bob@y.org",
        "<NAME_2>": "Ada",
    }
    assert "ada@x.org" not in repr(done)  # the values stay out of reprs and logs


def test_names_match_whole_words_only() -> None:
    done = Redactor(names=["Al"]).redact(["Al met Alice and Al."])
    assert done.texts == ["<NAME_1> met Alice and <NAME_1>."]


def test_restore_puts_known_values_back_and_leaves_unknown_placeholders() -> None:
    values = {"<EMAIL_1>": "ada@x.org"}
    assert restore("To <EMAIL_1>, cc <EMAIL_2>.", values) == "To ada@x.org, cc <EMAIL_2>."
