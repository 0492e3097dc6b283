"""BFCL through the tool-calling API: each SLM alone, the LLM alone, and the tool caller.

    python -m bench.tool_calling [--limit N] [--categories simple_python multiple parallel]

Every entry's function docs become tools (``collab.evaluation.bfcl_tools``, converted as BFCL's
own function-calling mode converts them) and its question the one user message, as BFCL's FC
mode asks; the reply's ``tool_calls`` are scored by BFCL's AST checker (``parallel``: one call
per expected one, in any order). Rows, on each category:

- SLM only: ``smollm2-135m-instruct`` and ``qwen2.5-coder-0.5b-instruct`` in-process, calls
  constrained by grammar (``tool_choice="required"``);
- LLM only: the embedded Qwen2.5-Coder-1.5B server through LiteLLM;
- tool caller (``collab.patterns.tool_caller.call_tools``): the SLM calls; a reply without a
  valid call (none, an invalid one, or one repeated) is shown its error and repaired at most
  ``--repairs`` times, then the LLM is asked the question afresh (``--llm-sees-slm``: with the
  SLM's failed calls);
- tool caller, grounded: the same, and an SLM call whose argument values the question does not
  contain, that turns on a flag the question does not name, that misreads the question (a
  route backwards, one number or words in two parameters, a percentage in the wrong form, a
  place without the region its docs' example shows), or that calls a tool another offered
  one fits clearly better (``collab.patterns.tool_caller.grounded_check(..., tool_fit=True)``),
  fails as well;
- tool caller, complete: grounded, and when the SLM's calls leave a value of the question
  unused (a number, a quoted value, a name listed beside a used one: ``unused_value``), the SLM
  is asked for the calls still missing (``call_tools(missing=...)``), up to 3 times; still
  incomplete, the reply fails: repaired, then escalated;
- tool caller, strict: complete, and a value only the called tool's docs give (a default made
  explicit) fails too (``grounded_check(..., documented_values=False)``): more escalations.

The checks were written against the first 20 entries of each category (seed 0, the
development sample); ``--held-out`` draws from the other entries instead and saves to
``bench/results/tool_calling_held_out.json``. Later checks were written reading the held-out
sample's failures as well; ``--fresh`` draws from the entries in neither sample, read by no
check's author, and saves to ``bench/results/tool_calling_fresh.json``.

Each item runs in a ``Run`` of its own: LLM tokens and cost are its remote calls as collab's
metering prices them, seconds the calls' latencies. Greedy calls are recorded
(``~/.cache/collab/recordings/tool_calling.sqlite``), so a second run replays them. Results go
to ``bench/results/tool_calling.json``; the table is printed in Markdown for the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from collab.patterns.tool_caller import ToolTurns, call_tools, grounded_check, unused_value

from collab.budget.run import Run
from collab.errors import CollabError
from collab.evaluation.bfcl import CATEGORIES, load_bfcl, question_of, read_category
from collab.evaluation.bfcl_tools import bfcl_tools, check_tool_calls
from collab.evaluation.datasets import Dataset, select
from collab.models.base import Model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "tool_calling.json"
HELD_OUT_RESULTS = ROOT / "bench" / "results" / "tool_calling_held_out.json"
FRESH_RESULTS = ROOT / "bench" / "results" / "tool_calling_fresh.json"
SLMS = ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")
LABELS = {
    "smollm2-135m-instruct": "SmolLM2-135M",
    "qwen2.5-coder-0.5b-instruct": "Qwen-0.5B",
    "qwen2.5-coder-1.5b-instruct": "Qwen-1.5B",
}
MAX_TOKENS = {"simple_python": 192, "multiple": 192, "parallel": 512}
"""Room for the calls: up to eight in ``parallel``."""
REPAIRS = 2
"""The tool caller's SLM repairs before the LLM (``plan_execute``'s default)."""
GOAL_REACHED_LLM = 0.4
DEVELOPMENT_LIMIT = 20
"""Entries per category the grounding checks were developed on (``--held-out`` skips them)."""
HELD_OUT_LIMIT = 40
"""Entries per category of the held-out sample (``--fresh`` skips them as well)."""


@dataclass(frozen=True)
class Entry:
    """One BFCL entry: its question, function docs and acceptable calls."""

    id: str
    category: str
    question: str
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """One system on one entry."""

    category: str
    id: str
    system: str
    correct: bool
    reached_llm: bool
    llm_tokens: int
    cost_usd: float
    seconds: float
    repairs: int
    error: str | None = None


Split = Literal["development", "held_out", "fresh"]
SPLIT_RESULTS: dict[Split, Path] = {
    "development": RESULTS,
    "held_out": HELD_OUT_RESULTS,
    "fresh": FRESH_RESULTS,
}
"""Where each sample's results go (``--results`` overrides)."""


def entries(
    category: str, limit: int | None, seed: int = 0, *, split: Split = "development"
) -> list[Entry]:
    """``limit`` entries drawn as ``collab eval --limit`` draws them (all when None).

    ``split="held_out"``: drawn from the entries outside the development sample (the
    ``DEVELOPMENT_LIMIT`` entries of seed 0 the tool caller's checks were first written
    against); ``"fresh"``: from those outside the held-out sample too (its
    ``HELD_OUT_LIMIT`` entries of seed 0, read while later checks were written).
    """
    dataset = load_bfcl(category)
    if split != "development":
        seen = {item.id for item in select(dataset, limit=DEVELOPMENT_LIMIT).items}
        dataset = _without(dataset, seen)
    if split == "fresh":
        dataset = _without(dataset, {i.id for i in select(dataset, limit=HELD_OUT_LIMIT).items})
    chosen = {item.id for item in select(dataset, limit=limit, seed=seed).items}
    return [
        Entry(e["id"], category, question_of(e), e["function"], truth)
        for e, truth in read_category(category)
        if e["id"] in chosen
    ]


def _without(dataset: Dataset, ids: set[str]) -> Dataset:
    rest = tuple(item for item in dataset.items if item.id not in ids)
    return dataset.model_copy(update={"items": rest})


Answerer = Callable[[Entry, Run], tuple[ToolTurns | None, list[Any]]]
"""A system: the tool calls it ends with for an entry (and its turns, for the tool caller)."""


def slm_only(slm: Model) -> Answerer:
    def answer(entry: Entry, run: Run) -> tuple[ToolTurns | None, list[Any]]:
        return None, _one_call(run.wrap(slm), entry)

    return answer


def llm_only(llm: Model) -> Answerer:
    def answer(entry: Entry, run: Run) -> tuple[ToolTurns | None, list[Any]]:
        return None, _one_call(run.wrap(llm), entry)

    return answer


def tool_caller(
    slm: Model,
    llm: Model,
    *,
    repairs: int = REPAIRS,
    llm_sees_slm: bool = False,
    check: Literal["valid", "grounded", "complete", "strict"] = "valid",
) -> Answerer:
    """The SLM's calls, repaired, then the LLM's; ``check``: which SLM replies fail, besides
    invalid ones: ungrounded ones (``grounded_check``); ``complete``: those too, and the SLM
    continues calls that leave a value of the question unused (``unused_value``); ``strict``:
    ``complete`` with values only the tool's docs give failing too."""

    def answer(entry: Entry, run: Run) -> tuple[ToolTurns | None, list[Any]]:
        tools = bfcl_tools(entry.functions).tools
        turns = call_tools(
            _prompt(entry),
            tools,
            slm=run.wrap(slm),
            llm=run.wrap(llm),
            max_tokens=MAX_TOKENS[entry.category],
            max_repairs=repairs,
            llm_attempts=1,
            llm_sees_slm=llm_sees_slm,
            check=None
            if check == "valid"
            else grounded_check(
                entry.question, tools, documented_values=check != "strict", tool_fit=True
            ),
            missing=(lambda calls: unused_value(calls, entry.question))
            if check in ("complete", "strict")
            else None,
        )
        return turns, turns.calls

    return answer


def _prompt(entry: Entry) -> list[dict[str, str]]:
    return [{"role": "user", "content": entry.question}]


def _one_call(model: Model, entry: Entry) -> list[Any]:
    done = model.complete(
        _prompt(entry),
        max_tokens=MAX_TOKENS[entry.category],
        tools=bfcl_tools(entry.functions).tools,
        tool_choice="required",
    )
    return list(done.tool_calls)


def score(system: str, entry: Entry, answerer: Answerer) -> Outcome:
    """Run ``answerer`` on ``entry`` in a run of its own and score its calls."""
    error = None
    turns: ToolTurns | None = None
    calls: list[Any] = []
    with Run() as run:
        try:
            turns, calls = answerer(entry, run)
        except CollabError as failed:  # one failed entry is a wrong answer, not the end
            error = f"{type(failed).__name__}: {failed}"[:300]
    records = [r for r in run.ledger.records if r.made]
    remote = [r for r in records if r.kind == "remote"]
    check = check_tool_calls(  # every call as the model made it, valid or not, as BFCL does
        entry.functions,
        calls,
        entry.ground_truth,
        category=CATEGORIES[entry.category],  # type: ignore[arg-type]
    )
    return Outcome(
        category=entry.category,
        id=entry.id,
        system=system,
        correct=error is None and check.valid,
        reached_llm=bool(remote),
        llm_tokens=sum(r.prompt_tokens + r.completion_tokens for r in remote),
        cost_usd=sum(r.cost_usd or 0.0 for r in records),
        seconds=sum(r.latency_s for r in records),
        repairs=turns.repairs if turns is not None else 0,
        error=error or (None if check.valid else check.error),
    )


def summary(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per category and system: the means over its entries."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.category, o.system), []).append(o)
    rows = []
    for (category, system), mine in groups.items():
        n = len(mine)
        rows.append(
            {
                "category": category,
                "system": system,
                "items": n,
                "accuracy": sum(o.correct for o in mine) / n,
                "reached_llm": sum(o.reached_llm for o in mine) / n,
                "llm_tokens_per_item": sum(o.llm_tokens for o in mine) / n,
                "cost_usd_per_item": sum(o.cost_usd for o in mine) / n,
                "seconds_per_item": sum(o.seconds for o in mine) / n,
                "repairs_per_item": sum(o.repairs for o in mine) / n,
            }
        )
    return rows


def goal(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per category and tool caller: the issue's goal (at least the LLM-only accuracy with at
    most 40% of the items reaching the LLM), and whether it is met."""
    verdicts: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["system"].startswith("tool caller"):
            continue
        llm = next(
            (r for r in rows if r["category"] == row["category"] and r["system"] == LLM_ONLY),
            None,
        )
        if llm is None:
            continue
        met = row["accuracy"] >= llm["accuracy"] and row["reached_llm"] <= GOAL_REACHED_LLM
        verdicts[f"{row['category']}: {row['system']}"] = {
            "accuracy": row["accuracy"],
            "llm_only_accuracy": llm["accuracy"],
            "reached_llm": row["reached_llm"],
            "met": met,
        }
    return verdicts


LLM_ONLY = "LLM only (Qwen-1.5B)"


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The table as the README shows it."""
    lines = [
        "| BFCL category (items) | system | accuracy | reached the LLM | LLM tokens per item "
        "| $ per 1k items | s per item | repairs per item |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['category']} ({r['items']}) | {r['system']} | {r['accuracy']:.1%} "
            f"| {r['reached_llm']:.0%} | {r['llm_tokens_per_item']:.0f} "
            f"| {1000 * r['cost_usd_per_item']:.3f} | {r['seconds_per_item']:.1f} "
            f"| {r['repairs_per_item']:.2f} |"
        )
    return "\n".join(lines)


def evaluate(
    systems: Sequence[tuple[str, Answerer]],
    items: Sequence[Entry],
    *,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
) -> list[Outcome]:
    """Every system on every entry."""
    outcomes = []
    for system, answerer in systems:
        for entry in items:
            outcome = score(system, entry, answerer)
            on_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def save(outcomes: Sequence[Outcome], meta: dict[str, Any], path: Path = RESULTS) -> Path:
    rows = summary(outcomes)
    payload = {
        "title": "BFCL through the tool-calling API",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        **meta,
        "rows": rows,
        "goal": goal(rows),
        "outcomes": [asdict(o) for o in outcomes],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


@contextlib.contextmanager
def _recorded(model: Model, record: Path | None) -> Iterator[Model]:
    if record is None:
        yield model
        return
    from collab.models.recorded import RecordedModel

    with RecordedModel(model, record) as recorded:
        yield recorded


def _progress(o: Outcome) -> None:
    verdict = "right" if o.correct else "wrong"
    llm = f" llm {o.llm_tokens} tok" if o.reached_llm else ""
    said = f" ({o.error[:100]})" if o.error else ""
    print(f"{o.category} {o.id} {o.system}: {verdict}{llm} {o.seconds:.1f}s{said}", flush=True)


def arguments() -> argparse.ArgumentParser:
    """The command line (``python -m bench.tool_calling --help``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.tool_calling", description=__doc__)
    parser.add_argument("--limit", type=int, help="entries per category (default: all)")
    parser.add_argument(
        "--categories", nargs="+", choices=list(CATEGORIES), default=list(CATEGORIES)
    )
    parser.add_argument("--slms", nargs="+", default=list(SLMS), help="catalog names")
    parser.add_argument("--repairs", type=int, default=REPAIRS, help="the tool caller's")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads per model")
    home = Path(os.environ.get("COLLAB_HOME", Path.home() / ".cache" / "collab"))
    parser.add_argument("--record", type=Path, default=home / "recordings" / "tool_calling.sqlite")
    parser.add_argument("--no-record", action="store_true", help="call the models every time")
    split = parser.add_mutually_exclusive_group()
    split.add_argument(
        "--held-out",
        action="store_true",
        help=f"draw from the entries outside the first {DEVELOPMENT_LIMIT} (those the checks were "
        "developed on); results go to tool_calling_held_out.json",
    )
    split.add_argument(
        "--fresh",
        action="store_true",
        help=f"draw from the entries outside the development and the {HELD_OUT_LIMIT} held-out "
        "ones (never read while writing the checks); results go to tool_calling_fresh.json",
    )
    parser.add_argument("--results", type=Path, help="where the results go")
    parser.add_argument(
        "--llm-sees-slm",
        action="store_true",
        help="show the escalated LLM the SLM's failed calls (default: the question alone)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    import collab

    parser = arguments()
    args = parser.parse_args(argv)
    record = None if args.no_record else args.record
    split: Split = "fresh" if args.fresh else "held_out" if args.held_out else "development"
    items = [e for category in args.categories for e in entries(category, args.limit, split=split)]
    results = args.results or SPLIT_RESULTS[split]
    outcomes: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(collab.embedded_llm(n_threads=args.threads))
        llm = stack.enter_context(_recorded(server, record))
        llm_name = llm.name
        outcomes += evaluate([(LLM_ONLY, llm_only(llm))], items, on_outcome=_progress)
        for name in args.slms:
            with (
                collab.LocalModel.from_catalog(name, n_threads=args.threads) as local,
                _recorded(local, record) as slm,
            ):
                label = LABELS.get(name, name)
                systems = [
                    (f"SLM only ({label})", slm_only(slm)),
                    (
                        f"tool caller ({label}, {args.repairs} repairs, then the LLM)",
                        tool_caller(slm, llm, repairs=args.repairs, llm_sees_slm=args.llm_sees_slm),
                    ),
                    *(
                        (
                            f"tool caller, {check} ({label}, {args.repairs} repairs, then the LLM)",
                            tool_caller(
                                slm,
                                llm,
                                repairs=args.repairs,
                                llm_sees_slm=args.llm_sees_slm,
                                check=check,
                            ),
                        )
                        for check in ("grounded", "complete", "strict")
                    ),
                ]
                outcomes += evaluate(systems, items, on_outcome=_progress)
    meta = {
        "slms": list(args.slms),
        "llm": llm_name,
        "limit": args.limit,
        "repairs": args.repairs,
        "llm_sees_slm": args.llm_sees_slm,
        "held_out": args.held_out,
        "split": split,
    }
    path = save(sorted(outcomes, key=lambda o: (o.category, o.system)), meta, results)
    rows = summary(sorted(outcomes, key=lambda o: (o.category, o.system)))
    print(markdown(rows))
    print(json.dumps(goal(rows), indent=1))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
