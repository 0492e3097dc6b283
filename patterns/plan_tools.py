"""Example tools for ``patterns.plan_execute``: a calculator, a confined file reader, a search.

Each is a ``collab.Tool``. Their failures raise ``ValueError`` with a message a model can act
on; the plan-and-execute pattern feeds it back as the step's error.

    tools = [calculator, file_reader(folder), corpus_search({"intro.md": "..."})]
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from collab.tools import Tool, tool

__all__ = ["calculator", "corpus_search", "evaluate", "file_reader"]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_MAX_EXPONENT = 100
_MAX_CHARS = 200


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression: numbers, + - * / // % **, parentheses.

    Names, attributes, calls and everything else are refused (``ValueError``): nothing is
    ever looked up or run, unlike ``eval``.
    """
    if len(expression) > _MAX_CHARS:
        raise ValueError(f"expression is {len(expression)} characters; at most {_MAX_CHARS}")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r} ({exc.msg})") from None
    return _value(tree.body)


def _value(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise ValueError(f"exponent {right} is too large (at most {_MAX_EXPONENT})")
        try:
            return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
        except ZeroDivisionError:
            raise ValueError("division by zero") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))  # type: ignore[no-any-return]
    raise ValueError(
        f"{ast.unparse(node)!r} is not allowed: use numbers, + - * / // % ** and parentheses"
    )


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression and return its value.

    Args:
        expression: Numbers with + - * / // % ** and parentheses, e.g. (17 * 23) + 4.
    """
    value = evaluate(expression)
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def file_reader(folder: str | Path, *, max_chars: int = 4000) -> Tool:
    """A ``read_file`` tool confined to ``folder``: paths are relative to it; ``..``, absolute
    paths and symlinks that lead outside it are refused, and text is cut to ``max_chars``."""
    root = Path(folder).resolve(strict=True)

    @tool
    def read_file(path: str) -> str:
        """Read a text file from the documents folder.

        Args:
            path: The file's path relative to the documents folder, e.g. notes/todo.txt.
        """
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ValueError(
                f"path {path!r} is refused: give a path relative to the documents folder, "
                "without '..'"
            )
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"path {path!r} is refused: it leads outside the documents folder")
        if not target.is_file():
            names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
            raise ValueError(f"no file {path!r}; the files are {names[:20]}")
        return target.read_text(encoding="utf-8", errors="replace")[:max_chars]

    return read_file


def corpus_search(documents: Mapping[str, str], *, top: int = 3) -> Tool:
    """A ``search`` tool over ``documents`` (name -> text): the ``top`` documents sharing the
    most query words (endings such as -s and -ed aside), each as ``name: text``; ties keep the
    documents' order."""
    corpus = dict(documents)

    @tool
    def search(query: str) -> str:
        """Search the local documents and return the best matches.

        Args:
            query: Words to look for, e.g. refund policy.
        """
        words = set(_words(query))
        if not words:
            raise ValueError(f"query {query!r} has no words to search for")
        scored = [
            (len(words & set(_words(text + " " + name))), name) for name, text in corpus.items()
        ]
        hits = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])[:top]
        if not hits:
            return f"no document matches {query!r}"
        return "\n\n".join(f"{name}: {corpus[name]}" for _, name in hits)

    return search


def _words(text: str) -> list[str]:
    """Lower-cased words, plural and tense endings cut ("returned", "returns" -> "return")."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
