"""The cost-quality plot of an ``EvalReport``: accuracy against remote dollars, frontier marked.

matplotlib is imported here only, and drawn with its Agg canvas on a bare ``Figure``: no
pyplot, no GUI backend, no global state changed in the caller's process.
"""

from __future__ import annotations

import io

from collab.errors import UserError
from collab.evaluation.runner import EvalReport, Row

__all__ = ["plot_report"]


def plot_report(report: EvalReport) -> bytes:
    """The report's rows and threshold curve as a PNG image (bytes)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import PercentFormatter
    except ImportError:
        raise UserError(
            "the cost-quality plot needs matplotlib", hint="pip install matplotlib"
        ) from None

    figure = Figure(figsize=(9.0, 5.0), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    counterfactuals = [r for r in report.rows if r.threshold is None and not r.held_out]
    curve = report.curve
    if curve:
        axes.plot(
            [r.remote_usd for r in curve],
            [r.accuracy for r in curve],
            "o-",
            color="0.65",
            markersize=4,
            linewidth=1,
            label=f"{report.system} thresholds",
        )
    front = sorted((r for r in [*counterfactuals, *curve] if r.pareto), key=_cost_then_quality)
    if front:
        axes.step(
            [r.remote_usd for r in front],
            [r.accuracy for r in front],
            where="post",
            color="tab:red",
            linewidth=2,
            alpha=0.8,
        )
        axes.plot(
            [r.remote_usd for r in front],
            [r.accuracy for r in front],
            "o",
            color="tab:red",
            markersize=7,
            label="Pareto frontier",
        )
    for row in curve:
        if row.calibrated and report.keep is not None:
            axes.plot(
                row.remote_usd,
                row.accuracy,
                "*",
                color="gold",
                markeredgecolor="black",
                markersize=16,
                zorder=4,
                label=f"calibrated: keeps {report.keep:.0%} of LLM-only, t={row.threshold:.2f}",
            )
    for row in report.rows:
        if row.held_out:
            axes.plot(
                row.remote_usd,
                row.accuracy,
                "X",
                color="black",
                markersize=10,
                zorder=4,
                label="held out: each half at the threshold the other half chose",
            )
    styles = (("s", "tab:blue"), ("^", "tab:green"), ("D", "tab:purple"), ("v", "tab:olive"))
    for row, (marker, color) in zip(counterfactuals, styles, strict=False):
        axes.plot(
            row.remote_usd,
            row.accuracy,
            marker,
            color=color,
            markerfacecolor="none",
            markeredgewidth=2,
            markersize=11,
            zorder=5,
            label=row.label,
        )
    labelled: set[tuple[float, float]] = set()
    for row in curve:  # one label per point: equal outcomes at several thresholds overlap
        point = (row.remote_usd, row.accuracy)
        if row.pareto and row.threshold is not None and point not in labelled:
            labelled.add(point)
            axes.annotate(
                f"t={row.threshold:.2f}",
                point,
                textcoords="offset points",
                xytext=(6, -13),
                fontsize=7,
                color="tab:red",
            )
    axes.set_xlabel("remote US$ per item")
    axes.set_ylabel(f"accuracy ({report.metric})" if report.metric else "accuracy")
    axes.set_ylim(-0.05, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
    axes.grid(True, alpha=0.3)
    axes.set_title(f"{report.system} on {report.dataset} ({report.n_items} items)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _cost_then_quality(row: Row) -> tuple[float, float]:
    return row.remote_usd, row.accuracy
