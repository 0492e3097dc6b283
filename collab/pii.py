"""Personal data found by deterministic detectors, replaced by typed placeholders, and restored.

    redactor = Redactor()                                  # every built-in detector
    done = redactor.redact(["Mail ada@example.com or call +44 20 7946 0958."])
    done.texts      # ['Mail <EMAIL_1> or call <PHONE_1>.']
    done.counts     # {'EMAIL': 1, 'PHONE': 1}: what a ledger may keep (never the values)
    restore("Wrote to <EMAIL_1>.", done.values)            # 'Wrote to ada@example.com.'

Detectors are regular expressions with a check where one exists: card numbers must pass the
Luhn checksum, IBANs the ISO 13616 mod-97 check, IPv4 addresses octets of at most 255, phone
numbers 9 to 15 digits (dates and card numbers excluded). API keys are matched by the
prefixes providers use (``sk-``, ``ghp_``, ``AKIA``, ``xox?-``, ``AIza``, JWTs, bearer tokens).
Names cannot be found by a pattern: ``names=`` takes the ones an SLM listed (see
``collab.privacy``). The same value gets the same placeholder everywhere; numbers count per
type in order of first appearance. Regexes miss what they were not written for (a phone
number spelled out, a name in lower case): this reduces what leaves the device, it does not
guarantee nothing personal does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["DETECTORS", "Detector", "Redacted", "Redactor", "luhn_valid", "restore"]


@dataclass(frozen=True)
class Detector:
    """A kind of personal data: its placeholder type, pattern and optional check."""

    kind: str
    """The placeholder's type: ``<KIND_n>``."""
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    """Whether a match really is one (a checksum); ``None``: every match is."""


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` pass the Luhn checksum (card numbers)."""
    digits = [int(d) for d in number if d.isdigit()]
    if len(digits) < 12:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    iban = text.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip_valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone_valid(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    is_date = re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}", text)
    return 9 <= digits <= 15 and not is_date


DETECTORS: tuple[Detector, ...] = (
    Detector("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    Detector(
        "API_KEY",
        re.compile(
            r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{30,}"
            r"|github_pat_[A-Za-z0-9_]{30,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}"
            r"|AIza[0-9A-Za-z_-]{35}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)"
            r"|(?<=Bearer )[A-Za-z0-9._~+/-]{16,}=*"
        ),
    ),
    Detector(
        "IBAN",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        _iban_valid,
    ),
    Detector("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), luhn_valid),
    Detector(
        "IP",
        re.compile(
            r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4})*(?![\w:])"
        ),
        _ip_valid,
    ),
    Detector(
        "PHONE",
        re.compile(r"(?<![\w+])\+?(?:\(\d{1,4}\)[ .-]?)?\d[\d .-]{6,18}\d(?!\w)"),
        _phone_valid,
    ),
)
"""The built-in detectors, in the order they claim text (earlier wins an overlap)."""


@dataclass(frozen=True)
class Redacted:
    """Texts with their personal data replaced, and how to put it back."""

    texts: list[str]
    values: dict[str, str] = field(repr=False)
    """Placeholder -> the original value (keep it on the device: it is what was hidden)."""
    counts: dict[str, int]
    """How many distinct values of each type were replaced: safe to log."""


@dataclass(frozen=True)
class Redactor:
    """Replaces what ``detectors`` (and the given ``names``) find with ``<TYPE_n>``."""

    detectors: Sequence[Detector] = DETECTORS
    names: Sequence[str] = ()
    """Person names to replace as ``<NAME_n>`` wherever they occur (e.g. an SLM's list)."""

    def with_names(self, names: Iterable[str]) -> Redactor:
        return Redactor(detectors=self.detectors, names=tuple(names))

    def redact(self, texts: Sequence[str]) -> Redacted:
        """``texts`` with every finding replaced, one numbering across all of them."""
        placeholders: dict[tuple[str, str], str] = {}
        counts: dict[str, int] = {}

        def placeholder(kind: str, value: str) -> str:
            key = (kind, value)
            if key not in placeholders:
                counts[kind] = counts.get(kind, 0) + 1
                placeholders[key] = f"<{kind}_{counts[kind]}>"
            return placeholders[key]

        redacted = []
        for text in texts:
            spans = self._spans(text)
            parts, last = [], 0
            for start, end, kind in spans:
                parts += [text[last:start], placeholder(kind, text[start:end])]
                last = end
            redacted.append("".join([*parts, text[last:]]))
        values = {p: value for (_, value), p in placeholders.items()}
        return Redacted(texts=redacted, values=values, counts=counts)

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping findings in ``text``: detectors in order, then names."""
        taken: list[tuple[int, int, str]] = []

        def free(start: int, end: int) -> bool:
            return all(end <= s or start >= e for s, e, _ in taken)

        for detector in self.detectors:
            for match in detector.pattern.finditer(text):
                value = match.group(0)
                if free(*match.span()) and (detector.check is None or detector.check(value)):
                    taken.append((match.start(), match.end(), detector.kind))
        for name in sorted({n.strip() for n in self.names if len(n.strip()) > 1}, key=len)[::-1]:
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
                if free(*match.span()):
                    taken.append((match.start(), match.end(), "NAME"))
        return sorted(taken)


_PLACEHOLDER = re.compile(r"<([A-Z_]+_\d+)>")


def restore(text: str, values: dict[str, str]) -> str:
    """``text`` with each known placeholder replaced by its value (unknown ones stay)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), text)
