"""Load: cascade runs per second and peak RSS with N runs in flight at once, on scripted
models (so the figures are collab's and LangGraph's own cost, not a model's).

Each (mode, N) is measured in a fresh process: peak RSS (``ru_maxrss``) is per process.
Modes: "threads" (N at once in a thread pool, ``cascade.run``) and "asyncio" (N tasks,
``cascade.arun``); each invocation has its own budgeted run. The baseline is the same
number of runs made one after the other in the same kind of process.

    python -m bench.load            # N = 50 and 200
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.report import Row, report
from collab import Budget, ScriptedModel
from collab.patterns import cascade

SIZES = (50, 200)
MODES = ("threads", "asyncio", "sequential")


def _models() -> tuple[ScriptedModel, ScriptedModel]:
    slm = ScriptedModel(
        lambda _: "maybe 42", name="slm", kind="local", scores=lambda _p, _o: [0.2, 0.8]
    )
    llm = ScriptedModel(lambda _: "42", name="llm", kind="remote", cost_per_token_usd=1e-6)
    return slm, llm


def _measure(mode: str, n: int) -> dict[str, float]:
    """Seconds for ``n`` escalating cascade runs in ``mode``, and this process's peak RSS."""
    slm, llm = _models()
    questions = [f"question {i}: what is six times seven?" for i in range(n)]
    cascade.run("warm up", slm=slm, llm=llm, budget=Budget(usd=1.0))

    def one(question: str) -> str:
        return cascade.run(question, slm=slm, llm=llm, budget=Budget(usd=1.0)).answer

    async def many() -> list[str]:
        async def task(question: str) -> str:
            done = await cascade.arun(question, slm=slm, llm=llm, budget=Budget(usd=1.0))
            return done.answer

        return await asyncio.gather(*(task(q) for q in questions))

    started = time.perf_counter()
    if mode == "threads":
        with ThreadPoolExecutor(max_workers=n) as pool:
            answers = list(pool.map(one, questions))
    elif mode == "asyncio":
        answers = asyncio.run(many())
    else:
        answers = [one(q) for q in questions]
    elapsed = time.perf_counter() - started
    assert answers == ["42"] * n and len(llm.calls) == n + 1
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": elapsed, "runs_per_s": n / elapsed, "peak_rss_mb": rss_mb}


def _in_process(mode: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", "--one", mode, str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(sizes: tuple[int, ...] = SIZES) -> None:
    rows: list[Row] = []
    for n in sizes:
        base = _in_process("sequential", n)
        for mode in ("threads", "asyncio"):
            got = _in_process(mode, n)
            rows.append(
                Row(
                    f"{mode}: {n} cascade runs at once",
                    got["runs_per_s"],
                    base["runs_per_s"],
                    "runs/s",
                    got["runs_per_s"] / base["runs_per_s"],
                    "info",
                    None,
                    "baseline: the same runs one by one",
                )
            )
            rows.append(
                Row(
                    f"{mode}: peak RSS, {n} at once",
                    got["peak_rss_mb"],
                    base["peak_rss_mb"],
                    "MB",
                    got["peak_rss_mb"] / base["peak_rss_mb"],
                    "info",
                    None,
                    "baseline: the one-by-one process",
                )
            )
    report("collab under load (scripted models, 3 calls per run)", rows, "load.json")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]))))
    else:
        run()
