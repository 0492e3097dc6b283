"""Speculative decoding on a memory-bound target: qwen2.5-coder-1.5b-instruct, every draft
source, both exactness modes, in one run.

Four tasks, greedy: (i) a copy-heavy code edit (rename a variable in a real module from
site-packages and output the whole module), (ii) extraction from a document in the prompt,
(iii) open-ended chat, (iv) HumanEval completions. Sides, interleaved round by round within
each prompt, medians:

- plain: ``LocalModel`` without speculation (what a user has otherwise);
- lookup (bit-identical) and lookup (batched): prompt lookup, ``Speculative(exactness=...)``;
- draft (the 0.5B sibling), cross-vocab (SmolLM2-135M), layer-skip (the target with some
  layers dropped): model drafters, in the batched mode;
- llama-cpp-python: ``Llama(draft_model=LlamaPromptLookupDecoding(), logits_all=True)``.

The reference, ``LocalModel(path, batch_invariant=True)`` (plain decoding on the context a
speculative model uses), generates each prompt once: the bit-identical mode's output must
equal it token for token; for the others the first differing token is reported.

Decode rates exclude the prompt (first token to last). The prompt is evaluated cold once per
context kind (plain's default context, the speculative context, llama-cpp-python's with
``logits_all``); the other speculative sides load the reference's cache, and drafters
evaluate the prompt on their own context. Timed rounds reuse the cached prompt; end-to-end
time is that prefill (the drafter's included) plus the median decode time.

    flock /work/notes/heavy.lock python -m bench.speculative_qwen
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import Row, report
from bench.speculative import PASSAGE, Timing, timed

ROUNDS = 3
THREADS = int(os.environ.get("BENCH_THREADS", "0"))
"""Threads per model (0: one per core). Run it on an otherwise idle machine: llama.cpp's threads
wait for each other at every step, so two threads on an oversubscribed pair of cores decoded
the 1.5B 15x slower than one (2 s against 134 ms a token); ``BENCH_THREADS=1`` on a shared one."""
LLAMA_ROUNDS = 1
"""Rounds of llama-cpp-python's prompt lookup, which runs at a few tokens a second here (it
recomputes logits for every position with ``logits_all``)."""
MAX_TOKENS = 128
N_CTX = 2048
TARGET = "qwen2.5-coder-1.5b-instruct"
DRAFTER = "qwen2.5-coder-0.5b-instruct"
"""Same vocabulary as the target."""
CROSS_DRAFTER = "smollm2-135m-instruct"
"""Another vocabulary."""
EDIT_MODULE = "httpx._types"
"""A real module (from site-packages) the edit task rewrites."""
EDIT_RENAME = ("PrimitiveData", "Primitive")
HUMANEVAL_ITEMS = (0, 1, 2)
"""HumanEval problems timed (indices)."""
FLOORS = {"edit": 2.0, "extract": 1.3, "chat": 0.95, "humaneval": 0.95}
LOOKUP_SIDES = ("lookup (bit-identical)", "lookup (batched)")


def edit_prompt() -> str:
    spec = importlib.util.find_spec(EDIT_MODULE)
    assert spec is not None and spec.origin is not None, EDIT_MODULE
    source = Path(spec.origin).read_text()
    old, new = EDIT_RENAME
    return (
        f"Rename the variable `{old}` to `{new}` everywhere in this Python module. Output the "
        f"whole module, changed, in one ```python block, and nothing else.\n\n"
        f"```python\n{source}```"
    )


def tasks() -> dict[str, tuple[str, list[Any]]]:
    """Each task's label and prompts (HumanEval: several problems)."""
    from collab.evaluation.humaneval import INSTRUCTIONS, load_humaneval

    items = load_humaneval().items
    humaneval = [
        [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": items[i].input},
        ]
        for i in HUMANEVAL_ITEMS
    ]
    return {
        "edit": ("(i) copy-heavy code edit (rename, whole module)", [edit_prompt()]),
        "extract": (
            "(ii) extract from a document",
            [
                "List every year mentioned in the text below, each with the sentence it "
                f"appears in, quoted.\n\n{PASSAGE}"
            ],
        ),
        "chat": (
            "(iii) open-ended chat",
            ["Tell me a story about a lighthouse keeper and a storm."],
        ),
        "humaneval": (f"(iv) HumanEval completions (items {HUMANEVAL_ITEMS})", humaneval),
    }


@dataclass
class Side:
    name: str
    run: Callable[[Any], tuple[Timing, Any]]
    """One generation of a prompt; its timing and speculation counters (None: not speculative)."""
    warm: Callable[[Any, Any, float], float]
    """Put a prompt in the side's caches, given the reference's state after it and its
    prefill seconds; the seconds of prefill the prompt costs this side."""
    prefill_s: dict[str, float] = field(default_factory=dict)
    timings: dict[str, list[Timing]] = field(default_factory=dict)
    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Per task, each run's text and the reference's for its prompt."""
    stats: dict[str, list[Any]] = field(default_factory=dict)
    rounds: int = ROUNDS
    """Timed rounds per prompt (the first ``rounds`` of the run's)."""

    def decode_s(self, task: str) -> float:
        return float(statistics.median(t.total_s - t.first_s for t in self.timings[task]))

    def decode_rate(self, task: str) -> float:
        return float(statistics.median(t.decode_rate for t in self.timings[task]))

    def end_to_end_s(self, task: str) -> float:
        return self.prefill_s[task] + self.decode_s(task)


def _stream_run(model: Any) -> Callable[[Any], tuple[Timing, Any]]:
    def run(prompt: Any) -> tuple[Timing, Any]:
        stream = model.stream(prompt, max_tokens=MAX_TOKENS)
        timing = timed(iter(stream), lambda: stream.completion.usage.completion_tokens)
        return timing, getattr(stream.completion, "speculation", None)

    return run


def plain_side(name: str, model: Any) -> Side:
    """A plain ``LocalModel``: warmed by evaluating the prompt cold (one token generated)."""

    def warm(prompt: Any, state: Any, reference_s: float) -> float:
        with model.hold() as llm:
            llm.reset()
        started = time.perf_counter()
        model.complete(prompt, max_tokens=1)
        return time.perf_counter() - started

    return Side(name, _stream_run(model), warm)


def speculative_side(name: str, model: Any, drafter: Any = None) -> Side:
    """A speculative ``LocalModel``: warmed with the reference's cache (the same context
    settings, so the same prefill cost) and its drafter's own prefill."""

    def warm(prompt: Any, state: Any, reference_s: float) -> float:
        with model.hold() as llm:
            llm.load_state(state)
        if drafter is None:
            return reference_s
        with drafter.hold() as llm:
            llm.reset()
        started = time.perf_counter()
        drafter.complete(prompt, max_tokens=1)
        return reference_s + time.perf_counter() - started

    return Side(name, _stream_run(model), warm)


def llama_side(name: str, llm: Any, render: Callable[[Any], list[int]]) -> Side:
    from collab.models.local_generation import SAMPLING

    def run(prompt: Any) -> tuple[Timing, Any]:
        count = [0]

        def deltas() -> Iterator[str]:
            for chunk in llm.create_completion(
                render(prompt), max_tokens=MAX_TOKENS, temperature=0.0, stream=True, **SAMPLING
            ):
                count[0] += 1
                yield chunk["choices"][0]["text"]

        return timed(deltas(), lambda: count[0]), None

    def warm(prompt: Any, state: Any, reference_s: float) -> float:
        llm.reset()
        started = time.perf_counter()
        llm.eval(render(prompt))
        return time.perf_counter() - started

    return Side(name, run, warm, rounds=LLAMA_ROUNDS)


SKIP_KEEP = 20
"""Layers of the target's 28 the layer-skip drafter keeps."""


def build_sides(threads: int, folder: Path) -> tuple[Any, list[Side], list[Any]]:
    """The reference model, the timed sides and everything to close afterwards."""
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    import collab
    from collab.models.catalog import model_path
    from collab.speculative import (
        CrossVocabDraft,
        DraftModel,
        Speculative,
        skip_layers,
        spread_layers,
    )

    path = model_path(TARGET)
    kw: dict[str, Any] = {"n_threads": threads, "n_ctx": N_CTX}
    plain = collab.LocalModel(path, **kw)
    reference = collab.LocalModel(path, batch_invariant=True, **kw)
    exact = collab.LocalModel(path, speculative=Speculative(), **kw)
    batched = collab.LocalModel(path, speculative=Speculative(exactness="batched"), **kw)
    pld = Llama(
        str(path),
        n_ctx=N_CTX,
        n_threads=threads,
        verbose=False,
        logits_all=True,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10),
    )
    sides = [
        plain_side("plain", plain),
        speculative_side(LOOKUP_SIDES[0], exact),
        speculative_side(LOOKUP_SIDES[1], batched),
        llama_side("llama-cpp-python PLD", pld, plain.prompt_tokens),
    ]
    closing = [plain, exact, batched, pld]
    if not os.environ.get("BENCH_LOOKUP_ONLY"):
        small = collab.LocalModel(DRAFTER, **kw)
        smol = collab.LocalModel(CROSS_DRAFTER, **kw)
        skipped = skip_layers(path, folder / "skip.gguf", spread_layers(28, SKIP_KEEP))
        shallow = collab.LocalModel(skipped, name=f"{TARGET}-{SKIP_KEEP}-layers", **kw)

        def drafted(source: Any) -> Any:
            return collab.LocalModel(
                path, speculative=Speculative(draft=source, exactness="batched"), **kw
            )

        by_draft = drafted(DraftModel(small))
        by_smol = drafted(CrossVocabDraft(smol))
        by_layers = drafted(DraftModel(shallow))
        sides[3:3] = [
            speculative_side(f"draft {DRAFTER} (batched)", by_draft, small),
            speculative_side(f"cross-vocab {CROSS_DRAFTER} (batched)", by_smol, smol),
            speculative_side(f"layer-skip {SKIP_KEEP}/28 (batched)", by_layers, shallow),
        ]
        closing += [by_draft, by_smol, by_layers, small, smol, shallow]
    for model in closing:  # probe batch sizes now
        if getattr(model, "speculative", None) is not None:
            model.complete("Hi", max_tokens=2)
    return reference, sides, closing


def run_task(task: str, prompts: list[Any], reference: Any, sides: list[Side]) -> None:
    """Per prompt: the reference's output (its cold run gives the speculative context's
    prefill), every side warmed, then ``ROUNDS`` interleaved rounds."""
    for i, prompt in enumerate(prompts):
        with reference.hold() as llm:
            llm.reset()
        timing, _ = _stream_run(reference)(prompt)
        reference_text = timing.text
        _log(f"{task}/{i}: reference, {timing.tokens} tokens in {timing.total_s:.1f} s")
        with reference.hold() as llm:
            state = llm.save_state()
        for side in sides:
            prefill = side.warm(prompt, state, timing.first_s)
            side.prefill_s[task] = side.prefill_s.get(task, 0.0) + prefill
        _log(f"{task}/{i}: warmed")
        for r in range(ROUNDS):
            for side in sides:
                if r >= side.rounds:
                    continue
                timing, stats = side.run(prompt)
                side.timings.setdefault(f"{task}/{i}", []).append(timing)
                side.texts.setdefault(task, []).append((timing.text, reference_text))
                side.stats.setdefault(task, []).append(stats)
            _log(f"{task}/{i}: round")
    for side in sides:  # a task's decode time: the sum over its prompts of their medians
        parts = [side.timings.pop(f"{task}/{i}") for i in range(len(prompts))]
        side.timings[task] = [
            Timing(
                "".join(p[r].text for p in parts),
                sum(p[r].tokens for p in parts),
                sum(p[r].first_s for p in parts),
                sum(p[r].total_s for p in parts),
            )
            for r in range(min(ROUNDS, side.rounds))
        ]


_STARTED = time.perf_counter()


def _log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.0f} s] {message}", flush=True)


def first_difference(ours: str, theirs: str, tokenize: Callable[[str], list[int]]) -> int | None:
    """The token at which ``ours`` first departs from ``theirs`` (None: identical)."""
    if ours == theirs:
        return None
    common = 0
    while common < min(len(ours), len(theirs)) and ours[common] == theirs[common]:
        common += 1
    return len(tokenize(ours[:common]))


def task_rows(task: str, label: str, by_name: dict[str, Side], tokenize: Any) -> list[Row]:
    plain = by_name["plain"]
    rows = []
    for side in by_name.values():
        if side.name == "plain":
            continue
        decode = side.decode_rate(task) / plain.decode_rate(task)
        e2e = plain.end_to_end_s(task) / side.end_to_end_s(task)
        stats = [s for s in side.stats[task] if s is not None]
        notes = [f"end-to-end {e2e:.2f}x (prefill {side.prefill_s[task]:.1f} s)"]
        if stats:
            drafted, accepted = sum(s.drafted for s in stats), sum(s.accepted for s in stats)
            per = sum(s.tokens for s in stats) / max(sum(s.target_decodes for s in stats), 1)
            notes.append(
                f"{accepted}/{drafted} drafted accepted, {per:.2f} tokens per target decode, "
                f"batches up to {stats[0].max_batch}"
            )
        diffs = [first_difference(a, b, tokenize) for a, b in side.texts[task]]
        same = sum(d is None for d in diffs)
        notes.append(
            f"output identical to plain decoding (same context) in {same}/{len(diffs)} runs"
            + (
                ""
                if same == len(diffs)
                else f", first differs at token {sorted(set(diffs) - {None})}"
            )
        )
        floor = FLOORS[task] if side.name in LOOKUP_SIDES else None
        rows.append(
            Row(
                f"{label}: {side.name}, decode tok/s vs plain",
                side.decode_rate(task),
                plain.decode_rate(task),
                "tok/s",
                decode,
                f">= {floor}" if floor else "info",
                None if floor is None else decode >= floor,
                "; ".join(notes),
            )
        )
    same_ref = sum(a == b for a, b in plain.texts[task])
    rows.append(
        Row(
            f"{label}: plain (default context) equals plain on the speculative context",
            same_ref,
            len(plain.texts[task]),
            "runs",
            None,
            "info",
            None,
            "flash attention + Q8_0 K cache against llama.cpp's default context",
        )
    )
    return rows


def probe_row(path: Path, label: str, threads: int) -> Row:
    """The verification batch sizes bit-identical to one-token decoding on ``path``."""
    from llama_cpp import Llama

    from collab.speculative.context import INVARIANT_CONTEXT
    from collab.speculative.invariance import probe_batches

    llm = Llama(str(path), n_ctx=512, n_threads=threads, verbose=False, **INVARIANT_CONTEXT)
    sizes = probe_batches(llm, 16, key=(str(path), threads, "bench")).sizes
    llm.close()
    return Row(
        f"{label}: largest verification batch bit-identical to one-token decoding",
        max(sizes),
        16,
        "tokens",
        None,
        "info",
        None,
        f"sizes allowed by the probe: {list(sizes)}",
    )


def run() -> Path:
    from tempfile import TemporaryDirectory

    from bench.speculative import batch_cost
    from collab.models.catalog import model_path
    from collab.models.requantize import requantize

    threads = THREADS or os.cpu_count() or 1
    load = os.getloadavg()
    started = time.perf_counter()
    all_tasks = tasks()
    with TemporaryDirectory() as folder:
        reference, sides, closing = build_sides(threads, Path(folder))
        _log("models loaded and probed")
        for task, (_, prompts) in all_tasks.items():
            run_task(task, prompts, reference, sides)
            print(f"{task} done at {time.perf_counter() - started:.0f} s", flush=True)
        by_name = {side.name: side for side in sides}
        rows = []
        for task, (label, _) in all_tasks.items():
            rows += task_rows(task, label, by_name, reference.tokenize)
        for model in [reference, *closing]:
            model.close()
    path = model_path(TARGET)
    formats = () if os.environ.get("BENCH_SKIP_COSTS") else ("as shipped", "Q4_0")
    for label in formats:
        weights = path if label == "as shipped" else requantize(path, format="q4_0")
        rows += batch_cost(weights, f"{TARGET} {label}", threads, rounds=3)
        rows.append(probe_row(weights, f"{TARGET} {label}", threads))
    minutes = (time.perf_counter() - started) / 60
    note = (
        f"{TARGET}, {threads} threads, greedy, {MAX_TOKENS} tokens, {ROUNDS} rounds, "
        f"{minutes:.0f} min; load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    return report(f"speculative decoding ({note})", rows, "speculative_qwen.json")


if __name__ == "__main__":
    run()
