"""Speculative decoding: tokens/s against plain decoding of the same target, in one run.

Three tasks, greedy: (i) copy-heavy (repeat a given text), (ii) a summary of a given text,
(iii) open-ended chat; on two targets: SmolLM2-135M-Instruct as shipped (Q4_1) and the same
weights requantized to Q4_0 (``collab.models.requantize``), a format whose llama.cpp kernels
verify a batch more cheaply. Five sides per target, interleaved round by round, medians:

- plain: ``LocalModel`` without speculation (what a user has otherwise);
- collab: ``LocalModel(..., speculative=True)`` (prompt lookup, adaptive);
- loop: the same decoding loop with a source that never drafts (speculation alone);
- llama-cpp-python: ``Llama(draft_model=LlamaPromptLookupDecoding(), logits_all=True)``;
- reference: ``LocalModel(path, batch_invariant=True)``, plain decoding on the context a
  speculative model uses: collab's output must equal it, token for token.

Decode tokens/s excludes the prompt (first token to last, as llama.cpp's eval rate). Also
reported: the copy task with the target's own output as ``prediction`` (every draft right:
the ceiling verification allows), the cost of a batch decode against a one-token decode
(what bounds any draft), and gemma-3-270m drafted by SmolLM2 across vocabularies (info).

    python -m bench.speculative
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import Row, report

ROUNDS = 3
MAX_TOKENS = 300

PASSAGE = """The lighthouse at Point Reyes was built in 1870 and stands on a rocky headland \
about 30 miles northwest of San Francisco. Its first-order Fresnel lens, made in France, has \
24 panels and was lit by an oil lamp until the station was electrified in 1939. Keepers lived \
in a house on the cliff above and climbed 308 steps each night to wind the clockwork that \
turned the lens.

Fog is common on the headland: the station recorded more than 2,700 hours of fog in some \
years, and a steam-powered fog signal was added in 1871. The Coast Guard automated the light \
in 1975, and the National Park Service now runs the lighthouse as a museum that is open to \
visitors from Friday to Monday. Gray whales pass the point on their migration between Alaska \
and Mexico, and the observation deck is a popular place to watch them in January and March.

Visitors park at the end of Sir Francis Drake Boulevard and walk half a mile to the visitor \
center. From there, the stairs lead down to the lighthouse itself. On clear days the Farallon \
Islands can be seen on the horizon, and elephant seals rest on the beaches below Chimney Rock \
in winter."""

TASKS: dict[str, tuple[str, str]] = {
    "copy": ("(i) copy-heavy: extract", f"Repeat the following text exactly:\n\n{PASSAGE}"),
    "summary": ("(ii) summary", f"Summarize the following text.\n\n{PASSAGE}"),
    "chat": ("(iii) open-ended chat", "Tell me a story about a lighthouse keeper and a storm."),
}
FLOORS = {"copy": 2.0, "summary": 1.2, "chat": 0.95}


@dataclass
class Timing:
    """One generation: its text, token count, and when its first and last tokens came."""

    text: str
    tokens: int
    first_s: float
    total_s: float

    @property
    def decode_rate(self) -> float:
        return (self.tokens - 1) / max(self.total_s - self.first_s, 1e-9)

    @property
    def end_to_end_rate(self) -> float:
        return self.tokens / self.total_s


@dataclass
class Side:
    name: str
    run: Callable[[str], Timing]
    timings: dict[str, list[Timing]] = field(default_factory=dict)

    def median(self, task: str, rate: str) -> float:
        return float(statistics.median(getattr(t, rate) for t in self.timings[task]))


def timed(deltas: Iterator[str], count: Callable[[], int]) -> Timing:
    started = time.perf_counter()
    first = None
    parts = []
    for delta in deltas:
        if first is None:
            first = time.perf_counter() - started
        parts.append(delta)
    total = time.perf_counter() - started
    return Timing("".join(parts), count(), first or total, total)


def _local_side(name: str, model: Any) -> Side:
    def run(prompt: str) -> Timing:
        with model.hold() as llm:
            llm.reset()  # cold prompt: every side evaluates it again
        stream = model.stream(prompt, max_tokens=MAX_TOKENS)
        timing = timed(iter(stream), lambda: stream.completion.usage.completion_tokens)
        side.last = stream.completion  # type: ignore[attr-defined]
        return timing

    side = Side(name, run)
    return side


def _llama_side(name: str, llm: Any, render: Callable[[str], list[int]], stop: list[str]) -> Side:
    from collab.models.local_generation import SAMPLING

    def run(prompt: str) -> Timing:
        llm.reset()
        count = [0]

        def deltas() -> Iterator[str]:
            for chunk in llm.create_completion(
                render(prompt),
                max_tokens=MAX_TOKENS,
                temperature=0.0,
                stop=stop,
                stream=True,
                **SAMPLING,
            ):
                count[0] += 1
                yield chunk["choices"][0]["text"]

        return timed(deltas(), lambda: count[0])

    return Side(name, run)


def batch_cost(path: Path, label: str, threads: int, *, rounds: int = 7) -> list[Row]:
    """A batch decode of n tokens against a one-token decode, on the speculative context."""
    from llama_cpp import Llama

    from collab.speculative.context import INVARIANT_CONTEXT, Context

    llm = Llama(str(path), n_ctx=2048, n_threads=threads, verbose=False, **INVARIANT_CONTEXT)
    tokens = llm.tokenize(PASSAGE.encode())
    ctx = Context(llm)
    ctx.prefill(tokens[:200])
    sizes = (1, 2, 4, 8, 16, 32)
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            started = time.perf_counter()
            ctx.decode(tokens[200 : 200 + n])
            seconds[n].append(time.perf_counter() - started)
            ctx.truncate(200)
    single = statistics.median(seconds[1])
    rows = []
    for n in sizes[1:]:
        cost = statistics.median(seconds[n])
        rows.append(
            Row(
                f"batch decode of {n} tokens vs 1 ({label}, 200 cached)",
                cost * 1000,
                single * 1000,
                "ms",
                cost / single,
                "info",
                None,
                f"ceiling for a {n - 1}-token draft all accepted: {n * single / cost:.2f}x",
            )
        )
    llm.close()
    return rows


class _NoDraft:
    """A draft source that never drafts: the speculative loop alone, as plain decoding."""

    name = "none"
    free = True
    cost_per_token = 0.0

    def session(self, request: Any) -> _NoDraft:
        return self

    def propose(self, context: Any, limit: int) -> Any:
        from collab.speculative.draft_sources import EMPTY

        return EMPTY

    def close(self) -> None:
        pass


def target_rows(path: Path, label: str, threads: int) -> list[Row]:
    """The three tasks on one target: speculative against plain decoding and the others."""
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    import collab
    from collab.speculative import Speculative

    kwargs: dict[str, Any] = {"n_threads": threads, "n_ctx": 2048}
    plain = collab.LocalModel(path, **kwargs)
    spec = collab.LocalModel(path, speculative=True, **kwargs)
    loop = collab.LocalModel(path, speculative=Speculative(draft=_NoDraft()), **kwargs)
    reference = collab.LocalModel(path, batch_invariant=True, **kwargs)
    pld_llm = Llama(
        str(path),
        n_ctx=2048,
        n_threads=threads,
        verbose=False,
        logits_all=True,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10),
    )
    stop = ["<|im_end|>"]
    sides = [
        _local_side("plain", plain),
        _local_side("collab", spec),
        _local_side("loop", loop),
        _llama_side("llama-cpp-python", pld_llm, plain.prompt_tokens, stop),
        _local_side("reference", reference),
    ]
    for _, prompt in TASKS.values():  # warm-up: page weights in, probe batch sizes
        for side in sides:
            side.run(prompt)
    stats: dict[str, list[Any]] = {task: [] for task in TASKS}
    for _ in range(ROUNDS):
        for task, (_, prompt) in TASKS.items():
            for side in sides:
                side.timings.setdefault(task, []).append(side.run(prompt))
            stats[task].append(sides[1].last.speculation)  # type: ignore[attr-defined]
    by_name = {side.name: side for side in sides}
    ours = by_name["collab"]
    rows = []
    for task, (name, _) in TASKS.items():
        rate = ours.median(task, "decode_rate")
        drafted = sum(s.drafted for s in stats[task])
        accepted = sum(s.accepted for s in stats[task])
        decodes = sum(s.target_decodes for s in stats[task])
        tokens = sum(s.tokens for s in stats[task])
        acceptance = f"{accepted}/{drafted} drafted tokens accepted" if drafted else "no drafts"
        for side, target, floor, note in (
            (
                "plain",
                f">= {FLOORS[task]}",
                FLOORS[task],
                f"{acceptance}; {tokens / decodes:.2f} tokens per target decode",
            ),
            ("loop", "info", None, "the same decoding loop with drafting off: speculation alone"),
            ("llama-cpp-python", "> 1", 1.0, "LlamaPromptLookupDecoding, logits_all=True"),
        ):
            base = by_name[side].median(task, "decode_rate")
            ratio = rate / base
            met = None if floor is None else ratio >= floor if side == "plain" else ratio > floor
            rows.append(
                Row(
                    f"{label} {name}: decode tok/s vs {side}",
                    rate,
                    base,
                    "tok/s",
                    ratio,
                    target,
                    met,
                    note,
                )
            )
        reference_runs = by_name["reference"].timings[task]
        same = sum(
            a.text == b.text for a, b in zip(ours.timings[task], reference_runs, strict=True)
        )
        rows.append(
            Row(
                f"{label} {name}: greedy output identical to plain decoding's",
                same,
                len(reference_runs),
                "runs",
                None,
                "all",
                same == len(reference_runs),
                "LocalModel(path, batch_invariant=True), the target without speculation",
            )
        )
    rows.append(_ceiling_row(label, spec, by_name["plain"], by_name["reference"]))
    for model in (plain, spec, loop, reference):
        model.close()
    pld_llm.close()
    return rows


def _ceiling_row(label: str, spec: Any, plain: Side, reference: Side) -> Row:
    """The copy task with the target's own output given as ``prediction``: every draft is
    right, so this is what verification alone allows on this machine and format."""
    prompt = TASKS["copy"][1]
    expected = reference.timings["copy"][0].text
    timings = []
    for _ in range(ROUNDS):
        with spec.hold() as llm:
            llm.reset()
        stream = spec.stream(prompt, max_tokens=MAX_TOKENS, prediction=expected)
        timings.append(timed(iter(stream), lambda s=stream: s.completion.usage.completion_tokens))
    stats = stream.completion.speculation
    rate = statistics.median(t.decode_rate for t in timings)
    base = plain.median("copy", "decode_rate")
    return Row(
        f"{label} (i) with its own output as prediction (every draft right): vs plain",
        rate,
        base,
        "tok/s",
        rate / base,
        "info",
        None,
        f"the ceiling for a perfect copier; {stats.tokens / stats.target_decodes:.2f} tokens "
        f"per target decode; output identical: {timings[0].text == expected}",
    )


def gemma_cross_vocab(threads: int) -> list[Row]:
    """gemma-3-270m drafted by SmolLM2 (text-level), greedy, on the copy task: information.

    Adaptive (what a user gets: the schedule turns drafting off when it does not pay) and
    forced (every draft verified, to show what the drafter achieves and costs).
    """
    import collab
    from collab.models.catalog import model_path
    from collab.speculative import CrossVocabDraft, Speculative

    drafter = collab.LocalModel(model_path("smollm2-135m-instruct"), n_threads=threads, n_ctx=2048)
    gemma_path = model_path("gemma3-270m")
    plain = collab.LocalModel(gemma_path, n_threads=threads, n_ctx=2048)
    adaptive = collab.LocalModel(
        gemma_path, n_threads=threads, n_ctx=2048, speculative=CrossVocabDraft(drafter)
    )
    forced = collab.LocalModel(
        gemma_path,
        n_threads=threads,
        n_ctx=2048,
        speculative=Speculative(draft=CrossVocabDraft(drafter), adaptive=False),
    )
    sides = [
        _local_side("plain", plain),
        _local_side("adaptive", adaptive),
        _local_side("forced", forced),
    ]
    prompt = TASKS["copy"][1]
    for side in sides:
        side.run(prompt)
    for _ in range(3):
        for side in sides:
            side.timings.setdefault("copy", []).append(side.run(prompt))
    rows = []
    base = sides[0]
    for side in sides[1:]:
        stats = side.last.speculation  # type: ignore[attr-defined]
        rows.append(
            Row(
                f"gemma-3-270m drafted by SmolLM2 across vocabularies ({side.name}), "
                "copy: decode tok/s vs plain",
                side.median("copy", "decode_rate"),
                base.median("copy", "decode_rate"),
                "tok/s",
                side.median("copy", "decode_rate") / base.median("copy", "decode_rate"),
                "info",
                None,
                f"{stats.accepted}/{stats.drafted} drafted tokens accepted; verification "
                f"batches up to {stats.max_batch} (exact on this model)",
            )
        )
    for model in (plain, adaptive, forced, drafter):
        model.close()
    return rows


def run() -> Path:
    from collab.models.catalog import model_path
    from collab.models.requantize import requantize

    threads = os.cpu_count() or 1
    load = os.getloadavg()
    shipped = model_path("smollm2-135m-instruct")
    q4_0 = requantize(shipped, format="q4_0")
    rows = target_rows(q4_0, "SmolLM2 Q4_0", threads)
    rows += target_rows(shipped, "SmolLM2 Q4_1 (as shipped)", threads)
    rows += batch_cost(q4_0, "SmolLM2 Q4_0", threads)
    rows += batch_cost(shipped, "SmolLM2 Q4_1", threads)
    rows += gemma_cross_vocab(threads)
    note = f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f}"
    return report(f"speculative decoding ({note})", rows, "speculative.json")


if __name__ == "__main__":
    run()
