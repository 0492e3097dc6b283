"""``collab eval PATTERN``: a pattern's cost and quality on a dataset, as a table, JSON and a plot.

collab eval cascade                                  # 20 built-in questions
collab eval cascade --dataset humaneval --limit 10
collab eval cascade --dataset bfcl-simple --limit 20 --llm openai/gpt-4o-mini
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collab.models.base import Model

__all__ = ["DEFAULT_SLM", "DEFAULT_SYSTEMS", "open_models", "register"]

DEFAULT_SYSTEMS = "collab.patterns.eval_systems"
"""The module whose ``@register`` calls say how each pattern is evaluated (``--systems``)."""

DEFAULT_SLM = "smollm2-135m-instruct"


@contextlib.contextmanager
def open_models(
    slm: str, llm: str | None, *, threads: int | None = None
) -> Iterator[tuple[Model, Model]]:
    """The SLM in-process from the catalog and the remote LLM (``collab.default_llm``).

    ``threads`` sets the llama.cpp threads of the SLM and, when the LLM is the embedded
    server, of the server too (fewer than the cores is faster on a busy machine).
    """
    import collab
    from collab.models.default_llm import LLM_ENV_VAR

    embedded = not (llm or os.environ.get(LLM_ENV_VAR))
    with contextlib.ExitStack() as stack:
        local = stack.enter_context(collab.LocalModel.from_catalog(slm, n_threads=threads))
        if embedded and threads is not None:
            remote = stack.enter_context(collab.embedded_llm(n_threads=threads))
        else:
            remote = stack.enter_context(collab.default_llm(llm))
        yield local, remote


def _list_patterns(systems: str) -> int:
    from rich.console import Console
    from rich.table import Table

    from collab.evaluation.systems import load_systems, pattern_evals

    load_systems(systems)

    table = Table(title="patterns (collab eval PATTERN)")
    table.add_column("pattern", style="bold")
    table.add_column("how it is evaluated")
    for pattern in pattern_evals():
        table.add_row(pattern.name, pattern.description)
    Console().print(table)
    return 0


def _run(args: argparse.Namespace) -> int:
    if not args.pattern:
        return _list_patterns(args.systems)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from collab.errors import UserError
    from collab.evaluation.datasets import load_dataset
    from collab.evaluation.report import DEFAULT_OUT_DIR, report_table, save_report
    from collab.evaluation.runner import evaluate
    from collab.evaluation.scoring import SCORERS, check_fits, get_scorer
    from collab.evaluation.systems import EvalSetup, get_pattern_eval, load_systems

    load_systems(args.systems)
    pattern = get_pattern_eval(args.pattern)
    if args.metric is not None and args.metric not in SCORERS:
        raise UserError(f"unknown metric {args.metric!r}", hint=f"use one of {', '.join(SCORERS)}")
    status = Console(stderr=True)
    with status.status(f"loading dataset {args.dataset}..."):
        dataset = load_dataset(args.dataset, limit=args.limit, seed=args.seed)
    metric = args.metric or dataset.metric
    check_fits(metric, dataset)
    with contextlib.ExitStack() as stack:
        with status.status("loading the local SLM and starting the remote LLM..."):
            slm, llm = stack.enter_context(open_models(args.slm, args.llm, threads=args.threads))
        if args.record:  # greedy calls recorded, and replayed when another evaluation asks them
            from collab.models.recorded import RecordedModel

            slm = stack.enter_context(RecordedModel(slm, args.record))
            llm = stack.enter_context(RecordedModel(llm, args.record))
        judge = None
        if args.judge == "program":
            from collab.evaluation.verifiers import program_verifier

            judge = program_verifier(dataset)
            if judge is None:
                raise UserError(
                    f"no program verifier fits dataset {dataset.name!r}",
                    hint="program judges exist for humaneval and bfcl-*; use --judge self",
                )
        setup = EvalSetup(slm=slm, llm=llm, dataset=dataset, judge=judge, hint=not args.no_hint)
        system = pattern.factory(setup)
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress("[bold]{task.description}", *columns, console=status) as bar:
            task = bar.add_task(f"{pattern.name} on {dataset.name}", total=len(dataset))
            report = evaluate(
                system,
                dataset,
                scorer=get_scorer(metric, judge=slm),
                metric=metric,
                slm=slm.name,
                llm=llm.name,
                keep=args.keep,
                on_item=lambda done, _total: bar.update(task, completed=done),
            )
    json_path, png_path = save_report(report, args.out or DEFAULT_OUT_DIR, plot=not args.no_plot)
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    console = Console()
    console.print(report_table(report))
    written = ", ".join(str(p) for p in (json_path, png_path) if p is not None)
    console.print(f"results: {written}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a pattern's cost and quality on a dataset",
        description="Evaluate a pattern on a dataset: accuracy, remote cost, local tokens and "
        "latency, for the LLM-only and SLM-only counterfactuals and across the pattern's "
        "thresholds; writes JSON results and a cost-quality plot.",
    )
    parser.add_argument("pattern", nargs="?", help="pattern to evaluate (omit to list them)")
    parser.add_argument(
        "--dataset",
        default="builtin-qa",
        help="builtin-qa (default), humaneval, bfcl-simple, bfcl-multiple, or a .jsonl path "
        'with {"input": ..., "reference": ...} lines',
    )
    parser.add_argument("--limit", type=int, help="evaluate a random subset of N items")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset (default 0)")
    parser.add_argument(
        "--metric",
        help="exact, contains, numeric, judge, humaneval or bfcl (default: the dataset's)",
    )
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--slm", default=DEFAULT_SLM, help=f"catalog name of the local SLM (default {DEFAULT_SLM})"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="llama.cpp threads for the SLM and the embedded LLM (default: one per core)",
    )
    parser.add_argument(
        "--keep",
        type=float,
        default=0.95,
        help="mark the cheapest threshold keeping this share of LLM-only accuracy (default 0.95)",
    )
    parser.add_argument(
        "--judge",
        choices=["self", "program"],
        default="self",
        help="how the cascade judges drafts: the SLM's logits (default), or a program "
        "(docstring examples run in the sandbox for humaneval; the call's shape for bfcl)",
    )
    parser.add_argument(
        "--no-hint",
        action="store_true",
        help="escalate the plain question, without the SLM's draft as a hint",
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="record greedy model calls in FILE and replay them when asked again "
        "(share one FILE between evaluations of several patterns)",
    )
    parser.add_argument(
        "--systems",
        default=DEFAULT_SYSTEMS,
        help=f"module that registers the evaluated systems (default {DEFAULT_SYSTEMS})",
    )
    parser.add_argument("--out", help="results folder (default ./eval-results)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(handler=_run)
