"""A worker's quote checked against its excerpt."""

from __future__ import annotations

import pytest
from collab.patterns.quoted_findings import quote_in

EXCERPT = """15. Disclaimer of Warranty.

THERE IS NO WARRANTY FOR THE PROGRAM, TO THE EXTENT PERMITTED BY APPLICABLE LAW."""


@pytest.mark.parametrize(
    ("quote", "found"),
    [
        ("15. Disclaimer of Warranty", True),
        ("there is no warranty for the program", True),  # case and line breaks aside
        ("THERE IS NO WARRANTY ... APPLICABLE LAW", True),  # parts joined by an ellipsis
        ("15. Limitation of Liability", False),  # a plausible title, not this excerpt's
        ("THERE IS NO WARRANTY ... OF ANY KIND", False),
        ("Disclaimer", False),  # too short to check anything
        ("", False),
    ],
)
def test_a_quote_counts_only_when_its_words_are_in_the_excerpt(quote: str, found: bool) -> None:
    assert quote_in(quote, EXCERPT) is found
