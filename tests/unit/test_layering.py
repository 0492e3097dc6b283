"""The layers hold: each package imports only from the layers below it.

    types, errors                       nothing of collab above them
    models, speculative                 never the budget, graph, tracing, evaluation or CLI
    budget                              never graph, tracing, evaluation, CLI or patterns
    collab (all of it)                  never patterns, examples, bench or tests (nor under
                                        their collab.patterns / collab.examples names)

Every import counts, those inside functions and under ``TYPE_CHECKING`` too: a cycle that
only type checkers see still ties two layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLAB = ROOT / "collab"

BANNED: dict[str, tuple[str, ...]] = {
    "collab": (
        "patterns",
        "examples",
        "bench",
        "tests",
        "collab.patterns",
        "collab.examples",
    ),
    "collab/models": (
        "collab.budget",
        "collab.graph",
        "collab.tracing",
        "collab.evaluation",
        "collab.cli",
    ),
    "collab/speculative": (
        "collab.budget",
        "collab.graph",
        "collab.tracing",
        "collab.evaluation",
        "collab.cli",
    ),
    "collab/budget": ("collab.graph", "collab.tracing", "collab.evaluation", "collab.cli"),
}
LOWEST = {"collab/types.py": ("collab.errors",), "collab/errors.py": ()}
"""Modules at the bottom, with the only collab modules they may import."""


def imports_of(path: Path) -> list[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations() -> list[str]:
    found = []
    for path in sorted(COLLAB.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        names = imports_of(path)
        for folder, banned in BANNED.items():
            if relative.startswith(folder + "/"):
                found += [f"{relative} imports {n}" for n in names for b in banned if _within(n, b)]
        if relative in LOWEST:
            allowed = LOWEST[relative]
            found += [
                f"{relative} imports {n}"
                for n in names
                if _within(n, "collab") and not any(_within(n, a) for a in allowed)
            ]
    return sorted(set(found))


def test_every_layer_imports_only_from_below() -> None:
    assert violations() == []


def test_the_scan_sees_imports_inside_functions_and_type_checking() -> None:
    sample = COLLAB / "models" / "_layering_probe.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from collab.budget.run import Run\n"
        "def f():\n    import patterns.cascade\n"
    )
    try:
        assert [v for v in violations() if "_layering_probe" in v] == [
            "collab/models/_layering_probe.py imports collab.budget.run",
            "collab/models/_layering_probe.py imports collab.budget.run.Run",
            "collab/models/_layering_probe.py imports patterns.cascade",
        ]
    finally:
        sample.unlink()


@pytest.mark.parametrize("module", ["prices", "local_costs", "limits", "ledger"])
def test_prices_and_costs_depend_on_no_backend(module: str) -> None:
    names = imports_of(COLLAB / "budget" / f"{module}.py")
    assert [n for n in names if _within(n, "collab.models")] == []
