"""Speculative decoding on a memory-bound target: qwen2.5-coder-1.5b-instruct, every draft
source, both exactness modes, in one run.

Four tasks, greedy: (i) a copy-heavy code edit (rename a variable in a real module from
site-packages and output the whole module), (ii) extraction from a document in the prompt,
(iii) open-ended chat, (iv) HumanEval completions. Sides, interleaved round by round within
each task, medians:

- plain: ``LocalModel`` without speculation (what a user has otherwise);
- reference: ``LocalModel(path, batch_invariant=True)``, plain decoding on the context a
  speculative model uses: the bit-identical mode's output must equal it, token for token;
- lookup (bit-identical) and lookup (batched): prompt lookup, ``Speculative(exactness=...)``;
- draft 0.5B, SmolLM2 cross-vocab, layer-skip: model drafters (batched mode);
- llama-cpp-python: ``Llama(draft_model=LlamaPromptLookupDecoding(), logits_all=True)``.

Decode rates exclude the prompt (first token to last). Each side evaluates each task's prompt
cold once (the warm-up, which gives its prefill time); the timed rounds then reuse the cached
prompt, and end-to-end time is that prefill plus the median decode time.

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

ROUNDS = 2
MAX_TOKENS = 160
N_CTX = 4096
TARGET = "qwen2.5-coder-1.5b-instruct"
EDIT_MODULE = "httpx._status_codes"
"""A real module (from site-packages) the edit task rewrites."""
EDIT_RENAME = ("value", "code")
HUMANEVAL_ITEMS = (0, 40)
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
    run: Callable[[Any, bool], tuple[Timing, Any]]
    """One generation of a prompt (cold: drop the cached prompt first); its timing and its
    speculation counters (None when not speculative)."""
    prefill_s: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, list[Timing]] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, list[Any]] = field(default_factory=dict)

    def decode_s(self, task: str) -> float:
        return float(statistics.median(t.total_s - t.first_s for t in self.timings[task]))

    def decode_rate(self, task: str) -> float:
        return float(statistics.median(t.decode_rate for t in self.timings[task]))

    def end_to_end_s(self, task: str) -> float:
        return sum(self.prefill_s[task]) + self.decode_s(task)


def local_side(name: str, model: Any) -> Side:
    def run(prompt: Any, cold: bool) -> tuple[Timing, Any]:
        if cold:
            with model.hold() as llm:
                llm.reset()
        stream = model.stream(prompt, max_tokens=MAX_TOKENS)
        timing = timed(iter(stream), lambda: stream.completion.usage.completion_tokens)
        return timing, getattr(stream.completion, "speculation", None)

    return Side(name, run)


def llama_side(name: str, llm: Any, render: Callable[[Any], list[int]]) -> Side:
    from collab.models.local_generation import SAMPLING

    def run(prompt: Any, cold: bool) -> tuple[Timing, Any]:
        if cold:
            llm.reset()
        count = [0]

        def deltas() -> Iterator[str]:
            for chunk in llm.create_completion(
                render(prompt), max_tokens=MAX_TOKENS, temperature=0.0, stream=True, **SAMPLING
            ):
                count[0] += 1
                yield chunk["choices"][0]["text"]

        return timed(deltas(), lambda: count[0]), None

    return Side(name, run)


def build_sides(threads: int, folder: Path) -> tuple[list[Side], list[Any]]:
    """The sides and everything to close afterwards."""
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
    small = collab.LocalModel("qwen2.5-coder-0.5b-instruct", **kw)
    smol = collab.LocalModel("smollm2-135m-instruct", **kw)
    skipped = skip_layers(path, folder / "qwen-1.5b-skip.gguf", spread_layers(28, SKIP_KEEP))
    shallow = collab.LocalModel(skipped, name=f"qwen-1.5b-{SKIP_KEEP}-layers", **kw)

    def drafted(source: Any) -> Any:
        return collab.LocalModel(
            path, speculative=Speculative(draft=source, exactness="batched"), **kw
        )

    by_draft = drafted(DraftModel(small))
    by_smol = drafted(CrossVocabDraft(smol))
    by_layers = drafted(DraftModel(shallow))
    pld = Llama(
        str(path),
        n_ctx=N_CTX,
        n_threads=threads,
        verbose=False,
        logits_all=True,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10),
    )
    sides = [
        local_side("plain", plain),
        local_side("reference", reference),
        local_side(LOOKUP_SIDES[0], exact),
        local_side(LOOKUP_SIDES[1], batched),
        local_side("draft 0.5B (batched)", by_draft),
        local_side("SmolLM2 cross-vocab (batched)", by_smol),
        local_side(f"layer-skip {SKIP_KEEP}/28 (batched)", by_layers),
        llama_side("llama-cpp-python PLD", pld, plain.prompt_tokens),
    ]
    for model in (exact, batched, by_draft, by_smol, by_layers):  # probe batch sizes now
        model.complete("Hi", max_tokens=2)
    closing = [plain, reference, exact, batched, by_draft, by_smol, by_layers, small, smol]
    return sides, [*closing, shallow, pld]


SKIP_KEEP = 20
"""Layers of the target's 28 the layer-skip drafter keeps."""


def run_task(task: str, prompts: list[Any], sides: list[Side]) -> None:
    """A cold warm-up per side and prompt, then ``ROUNDS`` interleaved rounds."""
    for i, prompt in enumerate(prompts):
        for side in sides:
            timing, _ = side.run(prompt, True)
            side.prefill_s.setdefault(task, []).append(timing.first_s)
        for _ in range(ROUNDS):
            for side in sides:
                timing, stats = side.run(prompt, False)
                side.timings.setdefault(f"{task}/{i}", []).append(timing)
                side.texts.setdefault(task, []).append(timing.text)
                side.stats.setdefault(task, []).append(stats)
    for side in sides:  # a task's decode time: the sum over its prompts of their medians
        parts = [side.timings.pop(f"{task}/{i}") for i in range(len(prompts))]
        side.timings[task] = [
            Timing(
                "".join(p[r].text for p in parts),
                sum(p[r].tokens for p in parts),
                sum(p[r].first_s for p in parts),
                sum(p[r].total_s for p in parts),
            )
            for r in range(ROUNDS)
        ]


def first_difference(ours: str, theirs: str, tokenize: Callable[[str], list[int]]) -> int | None:
    """The token at which ``ours`` first departs from ``theirs`` (None: identical)."""
    if ours == theirs:
        return None
    common = 0
    while common < min(len(ours), len(theirs)) and ours[common] == theirs[common]:
        common += 1
    return len(tokenize(ours[:common]))


def task_rows(task: str, label: str, by_name: dict[str, Side], tokenize: Any) -> list[Row]:
    plain, reference = by_name["plain"], by_name["reference"]
    rows = []
    for side in by_name.values():
        if side.name in {"plain", "reference"}:
            continue
        decode = side.decode_rate(task) / plain.decode_rate(task)
        e2e = plain.end_to_end_s(task) / side.end_to_end_s(task)
        stats = [s for s in side.stats[task] if s is not None]
        notes = [f"end-to-end {e2e:.2f}x (prefill {sum(side.prefill_s[task]):.1f} s)"]
        if stats:
            drafted, accepted = sum(s.drafted for s in stats), sum(s.accepted for s in stats)
            per = sum(s.tokens for s in stats) / max(sum(s.target_decodes for s in stats), 1)
            notes.append(
                f"{accepted}/{drafted} drafted accepted, {per:.2f} tokens per target decode, "
                f"batches up to {stats[0].max_batch}"
            )
        diffs = [
            first_difference(a, b, tokenize)
            for a, b in zip(side.texts[task], reference.texts[task], strict=True)
        ]
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
    same_ref = sum(a == b for a, b in zip(plain.texts[task], reference.texts[task], strict=True))
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


def run() -> Path:
    from tempfile import TemporaryDirectory

    from bench.speculative import batch_cost
    from collab.models.catalog import model_path
    from collab.models.requantize import requantize

    threads = os.cpu_count() or 1
    load = os.getloadavg()
    started = time.perf_counter()
    all_tasks = tasks()
    with TemporaryDirectory() as folder:
        sides, closing = build_sides(threads, Path(folder))
        for task, (_, prompts) in all_tasks.items():
            run_task(task, prompts, sides)
            print(f"{task} done at {time.perf_counter() - started:.0f} s", flush=True)
        tokenize = closing[0].tokenize
        by_name = {side.name: side for side in sides}
        rows = []
        for task, (label, _) in all_tasks.items():
            rows += task_rows(task, label, by_name, tokenize)
        for model in closing:
            model.close()
    path = model_path(TARGET)
    rows += batch_cost(path, "Qwen2.5-Coder-1.5B Q4_K_M", threads)
    rows += batch_cost(requantize(path, format="q4_0"), "Qwen2.5-Coder-1.5B Q4_0", threads)
    minutes = (time.perf_counter() - started) / 60
    note = (
        f"{TARGET}, {threads} threads, greedy, {MAX_TOKENS} tokens, {ROUNDS} rounds, "
        f"{minutes:.0f} min; load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    return report(f"speculative decoding ({note})", rows, "speculative_qwen.json")


if __name__ == "__main__":
    run()
