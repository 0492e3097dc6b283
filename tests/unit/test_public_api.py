"""The public API is one page: ``collab.__all__`` is complete, sorted, and importable."""

from __future__ import annotations

import subprocess
import sys

import collab


def test_all_is_sorted_and_unique() -> None:
    assert collab.__all__ == sorted(set(collab.__all__))


def test_every_exported_name_resolves() -> None:
    for name in collab.__all__:
        assert getattr(collab, name) is not None, name


def test_every_public_error_is_exported() -> None:
    from collab import errors

    assert set(errors.__all__) <= set(collab.__all__)


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        collab.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_collab_loads_neither_litellm_nor_llama_cpp() -> None:
    code = (
        "import sys, collab, collab.cli.main; "
        "print(sorted(m for m in ('litellm', 'llama_cpp', 'langgraph') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
