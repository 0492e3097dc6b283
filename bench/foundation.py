"""Foundation benchmarks: local decode speed, remote call overhead, cold start.

(a) ``LocalModel`` decode tokens/s over raw llama-cpp-python, same model, prompt and threads
    (target ratio >= 0.97); (b) ``RemoteModel`` through the embedded server over a plain httpx
    call to the same server (overhead per call, ms); (c) ``import collab`` and ``collab --help``
    wall time (target < 0.5 s). Runs are interleaved so both sides see the same machine state.

    python -m bench
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Row, report

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a lighthouse keeper who finds a "
    "message in a bottle. Describe the sea, the weather and every day of the week.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
DECODE_TOKENS = 128
ROUNDS = 5


def local_decode() -> Row:
    from llama_cpp import Llama

    import collab
    from collab.models.catalog import model_path

    path = model_path("smollm2-135m-instruct")
    threads = os.cpu_count() or 1
    ours = collab.LocalModel(path, n_threads=threads, n_ctx=2048)
    raw = Llama(str(path), n_threads=threads, n_ctx=2048, verbose=False)

    def raw_rate() -> float:
        started = time.perf_counter()
        out = raw.create_completion(PROMPT, max_tokens=DECODE_TOKENS, temperature=0.0)
        return out["usage"]["completion_tokens"] / (time.perf_counter() - started)

    def our_rate() -> float:
        started = time.perf_counter()
        done = ours.complete_text(PROMPT, max_tokens=DECODE_TOKENS, temperature=0.0)
        return done.usage.completion_tokens / (time.perf_counter() - started)

    raw_rate(), our_rate()  # warm-up: page in weights, build graphs
    raw_rates, our_rates = [], []
    for _ in range(ROUNDS):
        raw_rates.append(raw_rate())
        our_rates.append(our_rate())
    raw_median, our_median = statistics.median(raw_rates), statistics.median(our_rates)
    ratio = our_median / raw_median
    ours.close()
    return Row(
        "local decode (SmolLM2, 128 tokens)",
        our_median,
        raw_median,
        "tok/s",
        ratio,
        ">= 0.97",
        ratio >= 0.97,
        f"median of {ROUNDS} interleaved runs, {threads} threads",
    )


def remote_overhead() -> Row:
    import httpx

    import collab

    calls = 15
    with collab.embedded_llm() as llm:
        base_url = llm.api_base
        body = {
            "model": llm.model.split("/", 1)[1],
            "messages": [{"role": "user", "content": "Say OK."}],
            "max_tokens": 4,
            "temperature": 0.0,
        }
        client = httpx.Client(timeout=60)

        def plain() -> float:
            started = time.perf_counter()
            client.post(f"{base_url}/chat/completions", json=body).raise_for_status()
            return time.perf_counter() - started

        def ours() -> float:
            started = time.perf_counter()
            llm.complete("Say OK.", max_tokens=4)
            return time.perf_counter() - started

        plain(), ours()
        plain_times, our_times = [], []
        for _ in range(calls):
            plain_times.append(plain())
            our_times.append(ours())
        client.close()
    plain_ms = statistics.median(plain_times) * 1000
    our_ms = statistics.median(our_times) * 1000
    return Row(
        "remote call via embedded server (4 tokens)",
        our_ms,
        plain_ms,
        "ms",
        None,
        "small",
        our_ms - plain_ms < 25,
        f"median of {calls}; diff = RemoteModel overhead per call",
    )


def _wall(cmd: list[str]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cold_start() -> list[Row]:
    bare = _wall([sys.executable, "-c", "pass"])
    imported = _wall([sys.executable, "-c", "import collab"])
    collab_bin = Path(sys.executable).with_name("collab")
    helped = _wall([str(collab_bin), "--help"])
    return [
        Row(
            "cold start: import collab",
            imported,
            bare,
            "s",
            None,
            "< 0.5 s",
            imported < 0.5,
            "baseline: python -c pass",
        ),
        Row(
            "cold start: collab --help",
            helped,
            bare,
            "s",
            None,
            "< 0.5 s",
            helped < 0.5,
            "baseline: python -c pass",
        ),
    ]


def run() -> Path:
    rows = [local_decode(), remote_overhead(), *cold_start()]
    return report("collab foundation benchmarks", rows, "foundation.json")
