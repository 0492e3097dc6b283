"""patterns.plan_tools: a calculator that runs no names, a reader that stays in its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from collab.patterns.plan_tools import calculator, corpus_search, evaluate, file_reader

from collab import ToolArgumentsError


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("17 * 23 + 4", "395"),
        ("-(2 ** 10) // 3", "-342"),
        ("7 / 2", "3.5"),
        ("(1.5 + 2.5) * 2", "8"),
    ],
)
def test_calculator_does_arithmetic(expression: str, value: str) -> None:
    assert calculator.run({"expression": expression}) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('echo hi')",
        "x + 1",
        "(1).__class__",
        "abs(-3)",
        "[1, 2]",
        "'a' * 3",
        "True + 1",
        "2 ** 100000",
        "1 if 1 else 2",
    ],
)
def test_calculator_refuses_names_attributes_calls_and_other_types(expression: str) -> None:
    with pytest.raises(ValueError, match=r"not allowed|too large"):
        evaluate(expression)


def test_calculator_errors_say_what_was_wrong() -> None:
    with pytest.raises(ValueError, match="division by zero"):
        evaluate("1 / 0")
    with pytest.raises(ValueError, match="not an arithmetic expression"):
        evaluate("2 +")
    with pytest.raises(ToolArgumentsError, match="expression"):
        calculator.run({"expr": "1"})


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "todo.txt").write_text("buy milk")
    (tmp_path / "secret.txt").write_text("the password")
    return folder


def test_file_reader_reads_inside_its_folder(docs: Path) -> None:
    read = file_reader(docs)
    assert read.run({"path": "notes/todo.txt"}) == "buy milk"
    assert read.run({"path": "./notes/todo.txt"}) == "buy milk"


@pytest.mark.parametrize("path", ["../secret.txt", "notes/../../secret.txt"])
def test_file_reader_refuses_dot_dot(docs: Path, path: str) -> None:
    with pytest.raises(ValueError, match="refused"):
        file_reader(docs).run({"path": path})


def test_file_reader_refuses_absolute_paths(docs: Path) -> None:
    with pytest.raises(ValueError, match="refused"):
        file_reader(docs).run({"path": str(docs.parent / "secret.txt")})
    with pytest.raises(ValueError, match="refused"):
        file_reader(docs).run({"path": str(docs / "notes" / "todo.txt")})


def test_file_reader_refuses_symlinks_leaving_the_folder(docs: Path) -> None:
    (docs / "escape.txt").symlink_to(docs.parent / "secret.txt")
    (docs / "out").symlink_to(docs.parent)
    (docs / "inside.txt").symlink_to(docs / "notes" / "todo.txt")
    read = file_reader(docs)
    for path in ("escape.txt", "out/secret.txt"):
        with pytest.raises(ValueError, match="leads outside"):
            read.run({"path": path})
    assert read.run({"path": "inside.txt"}) == "buy milk"  # a link that stays inside is fine


def test_file_reader_names_the_files_when_one_is_missing(docs: Path) -> None:
    with pytest.raises(ValueError, match=r"no file 'nope.txt'.*notes/todo.txt"):
        file_reader(docs).run({"path": "nope.txt"})


def test_file_reader_cuts_long_files(docs: Path) -> None:
    (docs / "long.txt").write_text("x" * 100)
    assert file_reader(docs, max_chars=10).run({"path": "long.txt"}) == "x" * 10


def test_search_ranks_by_shared_words() -> None:
    search = corpus_search(
        {
            "refunds.md": "Refunds are paid within 14 days.",
            "shipping.md": "Shipping takes 3 days; refunds of shipping costs are not paid.",
            "about.md": "We sell tea.",
        },
        top=2,
    )
    found = search.run({"query": "how many days for refunds to be paid"})
    assert found.startswith("refunds.md: Refunds are paid within 14 days.")
    assert "shipping.md" in found and "about.md" not in found
    assert search.run({"query": "returned item"}) == "no document matches 'returned item'"
    assert search.run({"query": "refund policy"}).startswith("refunds.md")  # plural and singular
    with pytest.raises(ValueError, match="no words"):
        search.run({"query": "?!"})
