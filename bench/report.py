"""Print benchmark rows as a rich table and save them as JSON under bench/results/."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    """One figure: what was measured, the two sides, and how they compare."""

    name: str
    ours: float
    baseline: float
    unit: str
    ratio: float | None
    target: str
    met: bool | None
    """Whether the target was met; ``None`` for a figure reported for information only."""
    note: str = ""


def report(title: str, rows: list[Row], filename: str) -> Path:
    table = Table(title=title)
    for column in ("benchmark", "collab", "baseline", "ratio / diff", "target", "met", "note"):
        table.add_column(column, justify="left" if column in {"benchmark", "note"} else "right")
    for row in rows:
        table.add_row(
            row.name,
            f"{row.ours:.3f} {row.unit}",
            f"{row.baseline:.3f} {row.unit}",
            f"{row.ratio:.3f}" if row.ratio is not None else f"{row.ours - row.baseline:+.3f}",
            row.target,
            "-" if row.met is None else "yes" if row.met else "NO",
            row.note,
        )
    Console(width=160).print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / filename
    payload = {
        "title": title,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "rows": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    Console().print(f"saved {path}")
    return path
