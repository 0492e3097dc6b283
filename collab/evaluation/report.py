"""An ``EvalReport`` for people and machines: a rich table, a JSON file, a cost-quality plot."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from collab.budget.prices import format_usd
from collab.evaluation.runner import EvalReport, Row

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["DEFAULT_OUT_DIR", "report_table", "save_report"]

DEFAULT_OUT_DIR = Path("eval-results")


def report_table(report: EvalReport) -> Table:
    """The report's rows as a rich ``Table`` (rich is imported here); figures are means per item.

    Fits 80 columns: the calibrated threshold's row is starred, Pareto rows say so.
    """
    from rich.table import Table

    title = f"{report.system} on {report.dataset}: {report.n_items} items, metric {report.metric}"
    table = Table(title=title)
    columns = ("system", "threshold", "acc", "remote $", "LLM tok", "local tok", "latency s", "esc")
    for column in columns:
        table.add_column(
            column,
            justify="left" if column == "system" else "right",
            no_wrap=column not in {"LLM tok", "local tok", "latency s"},
        )
    table.add_column("pareto", justify="center")
    counterfactuals = sum(r.threshold is None and r.label != report.system for r in report.rows)
    for i, row in enumerate(report.rows):
        table.add_row(
            f"{row.label} *" if row.calibrated else row.label,
            _threshold(row, report),
            f"{row.accuracy:.0%}",
            format_usd(row.remote_usd, sign=False),
            f"{row.remote_tokens:.0f}",
            f"{row.local_tokens:.0f}",
            f"{row.latency_s:.2f}",
            f"{row.escalation_rate:.0%}",
            "yes" if row.pareto else "",
            end_section=i == counterfactuals - 1 and len(report.rows) > counterfactuals,
        )
    caption = ["means per item; esc: share escalated"]
    if report.keep is not None:
        caption.append(
            f"* calibrated: cheapest threshold keeping {report.keep:.0%} of LLM-only acc"
        )
        if any(row.held_out for row in report.rows):
            caption.append("held out: each half of the items at the threshold the other chose")
    caption.append(
        f"remote spent by this evaluation {format_usd(report.spent_remote_usd)}, "
        f"{report.errors} errors, {report.elapsed_s:.0f} s"
    )
    table.caption = "; ".join(caption)
    return table


def _threshold(row: Row, report: EvalReport) -> str:
    """The threshold; the top one (just above the highest confidence) as "> highest"."""
    if row.held_out:
        return "held out"
    if row.threshold is None:
        return "-"
    confidences = [i.confidence for i in report.items if i.confidence is not None]
    if confidences and row.threshold > max(confidences):
        return f">{max(confidences):.3f}"
    return f"{row.threshold:.3f}"


def save_report(
    report: EvalReport, out_dir: str | Path = DEFAULT_OUT_DIR, *, plot: bool = True
) -> tuple[Path, Path | None]:
    """Write ``<system>-<dataset>.json`` (and ``.png``, the plot) into ``out_dir``.

    Files are written to a temporary name and renamed, so a reader never sees half a file.
    Returns the JSON path and the PNG path (None when ``plot`` is false).
    """
    folder = Path(out_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "-", f"{report.system}-{report.dataset}")
    json_path = folder / f"{stem}.json"
    _write_atomic(json_path, report.model_dump_json(indent=2).encode())
    if not plot:
        return json_path, None
    from collab.evaluation.plot import plot_report

    png_path = folder / f"{stem}.png"
    _write_atomic(png_path, plot_report(report))
    return json_path, png_path


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide results from others
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
