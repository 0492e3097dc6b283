"""Reports: the Pareto frontier, the rich table, the JSON file and the PNG plot."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from collab.evaluation.frontier import pareto_front
from collab.evaluation.plot import plot_report
from collab.evaluation.report import report_table, save_report
from collab.evaluation.runner import EvalReport, ItemResult, Row, Side

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pareto_front_on_a_hand_made_set() -> None:
    points = [
        (0.0, 0.40),  # 0: cheapest
        (1.0, 0.40),  # 1: costs more for the same accuracy
        (1.0, 0.70),  # 2: front
        (2.0, 0.65),  # 3: dominated by 2
        (3.0, 0.90),  # 4: front
        (3.0, 0.90),  # 5: equal to 4: both stay
        (5.0, 0.90),  # 6: dominated by 4
        (4.0, 0.95),  # 7: best accuracy
    ]
    assert pareto_front(points) == [0, 2, 4, 5, 7]
    assert pareto_front([]) == [] and pareto_front([(1.0, 0.5)]) == [0]


def row(label: str, cost: float, accuracy: float, **fields: object) -> Row:
    values = {"local_tokens": 10.0, "latency_s": 0.5, "escalation_rate": 0.0, **fields}
    return Row(label=label, remote_usd=cost, accuracy=accuracy, **values)  # type: ignore[arg-type]


def report() -> EvalReport:
    curve = [
        row("cascade", 0.0, 0.5, threshold=0.0, pareto=True),
        row(
            "cascade", 2e-6, 0.8, threshold=0.31, pareto=True, calibrated=True, escalation_rate=0.4
        ),
        row("cascade", 5e-6, 0.8, threshold=0.62, escalation_rate=0.9),
    ]
    side = Side(answer="Paris", score=1.0, remote_usd=1e-6, local_tokens=12, latency_s=0.3)
    return EvalReport(
        system="cascade",
        dataset="toy",
        metric="contains",
        n_items=2,
        slm="slm",
        llm="llm",
        keep=0.95,
        rows=[
            row("llm-only", 5e-6, 0.8, escalation_rate=1.0),
            row("slm-only", 0.0, 0.5, pareto=True),
            *curve,
        ],
        curve=curve,
        items=[ItemResult(id="q0", reference="Paris", confidence=0.7, cheap=side, expensive=side)],
        spent_remote_usd=1e-5,
        errors=0,
        elapsed_s=3.0,
    )


def test_the_table_shows_every_row_and_marks_pareto_and_calibrated() -> None:
    console = Console(width=160, record=True)
    console.print(report_table(report()))
    text = console.export_text()
    assert "cascade on toy: 2 items, metric contains" in text
    for expected in (
        "llm-only",
        "slm-only",
        "0.310",
        "80%",
        "0.000002",
        "cascade *",
        "keeping 95%",
    ):
        assert expected in text
    assert text.count("yes") == 3  # slm-only and two thresholds are on the frontier
    assert ">0.700" not in text and "0.620" in text  # 0.62 is below the highest confidence


def test_the_plot_is_a_png() -> None:
    image = plot_report(report())
    assert image.startswith(PNG_SIGNATURE) and len(image) > 10_000


def test_save_report_writes_json_that_reads_back_and_the_plot(tmp_path: Path) -> None:
    json_path, png_path = save_report(report(), tmp_path / "out")
    assert json_path == tmp_path / "out" / "cascade-toy.json"
    assert EvalReport.model_validate_json(json_path.read_text()) == report()
    assert png_path is not None and png_path.read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cascade-toy.json",
        "cascade-toy.png",
    ]
    _, no_plot = save_report(report(), tmp_path / "json-only", plot=False)
    assert no_plot is None
