"""The model ladder's headline: cost against quality on HumanEval and BFCL, every row side by side.

    python -m bench.headline                       # the committed subsets (see SUITES)
    python -m bench.headline --humaneval 164 --bfcl 400    # the full sets (hours on 2 cores)
    python -m bench.headline --humaneval 164 --only he-router-q05   # one row again, the rest kept

Each row is one ``collab eval`` run (a subprocess, so a crash in one row loses nothing), all
sharing one recording of greedy model calls (``collab eval --record``): the SLM's drafts and the
LLM's answers are computed once and replayed by every other row that asks the same thing, so a
second run of this script costs only the sandboxed scoring. Results go to
``bench/results/headline.json``; the table is printed in Markdown for the README, and the
cost-quality plot of HumanEval is saved as ``docs/img/headline-humaneval.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collab.evaluation.runner import EvalReport, Row

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "headline.json"
PLOT = ROOT / "docs" / "img" / "headline-humaneval.png"
SLM = "qwen2.5-coder-0.5b-instruct"
TINY = "smollm2-135m-instruct"
PUBLISHED_HUMANEVAL = {
    "qwen2.5-coder-0.5b-instruct": 61.6,
    "qwen2.5-coder-1.5b-instruct": 70.7,
}
"""pass@1 in the Qwen2.5-Coder technical report (instruct models, full precision)."""


@dataclass(frozen=True)
class Evaluation:
    """One ``collab eval`` run: which pattern, on what, with which SLM and judge."""

    key: str
    pattern: str
    dataset: str
    slm: str
    extra: tuple[str, ...] = ()


def suite(humaneval: int, bfcl: int, draft_verify: int) -> list[Evaluation]:
    """The rows of the headline, as evaluations."""
    he = ("--limit", str(humaneval)) if humaneval < 164 else ()
    bf = ("--limit", str(bfcl))
    program = ("--judge", "program", "--no-hint")
    return [
        Evaluation("he-cascade-program-q05", "cascade", "humaneval", SLM, (*he, *program)),
        Evaluation("he-cascade-program-smol", "cascade", "humaneval", TINY, (*he, *program)),
        Evaluation("he-router-q05", "router", "humaneval", SLM, he),
        Evaluation("he-cascade-self-q05", "cascade", "humaneval", SLM, (*he, "--no-hint")),
        Evaluation("bs-cascade-program-q05", "cascade", "bfcl-simple", SLM, (*bf, *program)),
        Evaluation("bm-cascade-program-q05", "cascade", "bfcl-multiple", SLM, (*bf, *program)),
        Evaluation("bs-cascade-program-smol", "cascade", "bfcl-simple", TINY, (*bf, *program)),
        Evaluation("bm-cascade-program-smol", "cascade", "bfcl-multiple", TINY, (*bf, *program)),
        Evaluation("he-dv-q05", "draft_verify", "humaneval", SLM, ("--limit", str(draft_verify))),
    ]


def evaluate(evaluation: Evaluation, *, record: Path, threads: int | None) -> EvalReport:
    """Run one evaluation in a subprocess and read its report."""
    command = [
        *(sys.executable, "-m", "collab.cli.main", "eval", evaluation.pattern),
        *("--dataset", evaluation.dataset, "--slm", evaluation.slm, "--seed", "0"),
        *("--record", str(record), "--json", "--no-plot"),
        *("--out", str(record.parent / "reports" / evaluation.key)),
        *evaluation.extra,
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{evaluation.key} failed: {done.stderr.strip()[-800:]}")
    return EvalReport.model_validate_json(done.stdout)


def headline_rows(reports: dict[str, EvalReport]) -> list[dict[str, Any]]:
    """The headline table: baselines once per dataset, then each pattern's rows: a program
    judge's two principled thresholds (0.5: escalate failed checks; 1: also the unchecked),
    any other system's calibrated one."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for key, report in reports.items():
        llm_only = _row(report, "llm-only")
        for row in report.rows:
            if not _shown(key, row):
                continue
            label = _label(key, report, row)
            if (report.dataset, label) in seen:
                continue
            seen.add((report.dataset, label))
            rows.append(_as_dict(report, row, label, llm_only))
    return rows


def _shown(key: str, row: Row) -> bool:
    if row.held_out:
        return "program" not in key  # a program judge's thresholds are principled, not fitted
    if row.threshold is None:
        return True
    if "program" in key:
        return row.threshold in (0.5, 1.0)
    return row.calibrated


def _row(report: EvalReport, label: str) -> Row | None:
    return next((r for r in report.rows if r.label == label and r.threshold is None), None)


def _label(key: str, report: EvalReport, row: Row) -> str:
    slm = "SmolLM2-135M" if report.slm == TINY else "Qwen-0.5B"
    if row.label == "llm-only":
        return "LLM only (Qwen-1.5B)"
    if row.label == "slm-only":
        return f"SLM only ({slm})"
    if row.label == "draft_verify":
        return f"draft_verify ({slm}; the LLM reads every draft)"
    judge = " + program judge" if "program" in key else " + self-check" if "self" in key else ""
    if "program" in key and row.threshold is not None:
        what = "failed checks" if row.threshold == 0.5 else "failed and unchecked"
        return f"{row.label} ({slm}{judge}: escalate {what})"
    if row.held_out:
        return f"{row.label} ({slm}{judge}), threshold chosen on the other half"
    threshold = f" @ {row.threshold:.2f}, calibrated in-sample" if row.threshold is not None else ""
    return f"{row.label} ({slm}{judge}){threshold}"


def _as_dict(report: EvalReport, row: Row, label: str, llm_only: Row | None) -> dict[str, Any]:
    quality = row.accuracy / llm_only.accuracy if llm_only and llm_only.accuracy else None
    tokens = (
        row.remote_tokens / llm_only.remote_tokens if llm_only and llm_only.remote_tokens else None
    )
    return {
        "dataset": report.dataset,
        "items": report.n_items,
        "system": label,
        "accuracy": row.accuracy,
        "share_of_llm_accuracy": quality,
        "reached_llm": 1.0 if row.label == "draft_verify" else row.escalation_rate,
        "llm_tokens_per_item": row.remote_tokens,
        "share_of_llm_tokens": tokens,
        "cost_usd_per_item": row.remote_usd,
        "seconds_per_item": row.latency_s,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table as the README shows it."""
    lines = [
        "| dataset (items) | system | accuracy | vs LLM-only | reached the LLM | LLM tokens "
        "| $ per 1k items | s per item (busy machine) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = r["share_of_llm_accuracy"]
        tokens = r["share_of_llm_tokens"]
        lines.append(
            f"| {r['dataset']} ({r['items']}) | {r['system']} | {r['accuracy']:.1%} "
            f"| {f'{share:.0%}' if share is not None else ''} | {r['reached_llm']:.0%} "
            f"| {r['llm_tokens_per_item']:.0f}{f' ({tokens:.0%})' if tokens is not None else ''} "
            f"| {1000 * r['cost_usd_per_item']:.3f} | {r['seconds_per_item']:.1f} |"
        )
    return "\n".join(lines)


def plot(reports: dict[str, EvalReport], path: Path) -> None:
    """Cost against pass@1 on HumanEval: every row and threshold of every HumanEval run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key, report in reports.items():
        if report.dataset != "humaneval":
            continue
        curve = sorted(report.curve, key=lambda r: r.remote_usd)
        axes.plot(
            [1000 * r.remote_usd for r in curve],
            [100 * r.accuracy for r in curve],
            marker=".",
            label=f"{key.removeprefix('he-')} ({report.n_items} problems)",
        )
        for row in report.rows:
            if row.threshold is None and row.label in {"llm-only", "slm-only"}:
                name = row.label if row.label == "llm-only" else f"slm-only ({report.slm[:12]})"
                name = f"{name}, {report.n_items}"
                axes.annotate(name, (1000 * row.remote_usd, 100 * row.accuracy), fontsize=7)
    axes.set_xlabel("LLM cost, $ per 1,000 problems (stand-in list price)")
    axes.set_ylabel("pass@1 (%)")
    axes.set_title("HumanEval: cost against quality")
    axes.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.headline", description=__doc__)
    parser.add_argument("--humaneval", type=int, default=20, help="HumanEval items (164: all)")
    parser.add_argument("--bfcl", type=int, default=15, help="items per BFCL category")
    parser.add_argument("--draft-verify", type=int, default=10, help="HumanEval items for it")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per model")
    home = Path(os.environ.get("COLLAB_HOME", Path.home() / ".cache" / "collab"))
    parser.add_argument(
        "--record", type=Path, default=home / "recordings" / "headline.sqlite", help="recording"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="only rebuild the table and plot from the results"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="KEY",
        help="run only these rows (e.g. he-router-q05); the others come from the saved results",
    )
    args = parser.parse_args(argv)
    evaluations = [] if args.rebuild else suite(args.humaneval, args.bfcl, args.draft_verify)
    reports: dict[str, EvalReport] = {}
    if args.rebuild or args.only:
        saved = json.loads(RESULTS.read_text())["reports"]
        reports = {k: EvalReport.model_validate({**r, "items": []}) for k, r in saved.items()}
    if args.only:
        unknown = sorted(set(args.only) - {e.key for e in evaluations})
        if unknown:
            parser.error(f"unknown rows {unknown}; the rows: {[e.key for e in evaluations]}")
        evaluations = [e for e in evaluations if e.key in args.only]
    for evaluation in evaluations:
        print(f"[headline] {evaluation.key}", flush=True)
        reports[evaluation.key] = evaluate(evaluation, record=args.record, threads=args.threads)
    rows = headline_rows(reports)
    published = {name: score / 100 for name, score in PUBLISHED_HUMANEVAL.items()}
    RESULTS.write_text(
        json.dumps(
            {
                "rows": rows,
                "published_humaneval_pass_at_1": published,
                "reports": {
                    k: json.loads(r.model_dump_json(exclude={"items"})) for k, r in reports.items()
                },
            },
            indent=2,
        )
    )
    plot(reports, PLOT)
    print(markdown(rows))
    print(f"\nresults: {RESULTS.relative_to(ROOT)}, plot: {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
