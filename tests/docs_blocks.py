"""The fenced code blocks of a docs page, and running a Python one as a module of its own."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

__all__ = ["NEEDS", "blocks", "run_block"]

NEEDS = re.compile(r"^# needs: (.+)$", re.M)
"""A block's first line ``# needs: <what>`` marks one that runs only where that exists."""


def blocks(page: Path, language: str) -> list[str]:
    """The ``language`` blocks of ``page``, in order."""
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def run_block(block: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``block`` as a module of its own (dataclasses in it look their module up)."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, name, "exec"), module.__dict__)
