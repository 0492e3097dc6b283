"""Saved prompt states: seconds for questions that come back to the same long excerpts.

Three excerpts of the long-document corpus (about 1,500 tokens each), two questions about
each, asked round robin (excerpt 1, 2, 3, then 1, 2, 3 again): the pattern of map-reduce
workers asked several questions about one document. Two copies of the model, side by side:
one plain (its cache holds the last prompt only, so every prompt is evaluated in full), one
with ``prefix_cache_mb`` (from the second question on, each excerpt's values are restored).
Rounds interleave the two (each round starts both cold), medians over rounds; the greedy
replies must be the same, token for token.

    python -m bench.prefix_states [--rounds N] [--models NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from bench.report import Row, report

ROUNDS = 3
THREADS = 2
EXCERPT_CHARS = 6000
QUESTIONS = ("What does this excerpt say about patents?", "Name one obligation it sets.")
MODELS = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct")
CACHE_MB = 512


def workload() -> list[list[dict[str, str]]]:
    """The six prompts, in the order they are asked."""
    from bench.long_doc_qa import corpus_of, documents, questions

    text = corpus_of(documents(sorted({q.document for q in questions()})))
    excerpts = [text[i * EXCERPT_CHARS : (i + 1) * EXCERPT_CHARS] for i in range(3)]
    return [
        [
            {"role": "system", "content": "Answer from the excerpt only, in one sentence."},
            {"role": "user", "content": f"Excerpt:\n{excerpt}\n\nTask: {question}"},
        ]
        for question in QUESTIONS
        for excerpt in excerpts
    ]


def measure(model_name: str, rounds: int = ROUNDS) -> dict[str, Any]:
    """Seconds per workload, plain and with saved states, and whether the replies match."""
    from collab.models.local import LocalModel
    from collab.models.prefix_states import PrefixStates

    prompts = workload()
    plain = LocalModel.from_catalog(model_name, n_threads=THREADS)
    saved = LocalModel.from_catalog(model_name, n_threads=THREADS, prefix_cache_mb=CACHE_MB)
    seconds: dict[str, list[float]] = {"plain": [], "saved": []}
    replies: dict[str, list[str]] = {}
    skipped = 0
    prompt_tokens = sum(plain.count_tokens(p[-1]["content"]) for p in prompts)
    try:
        for number in range(rounds):
            sides = [("plain", plain), ("saved", saved)]
            for side, model in sides if number % 2 == 0 else sides[::-1]:
                with model.hold() as llm:
                    llm.reset()  # each round starts cold
                if side == "saved":
                    model.prefix_states = PrefixStates(CACHE_MB * 2**20)
                started = time.perf_counter()
                texts = [model.complete(p, max_tokens=32).text for p in prompts]
                seconds[side].append(time.perf_counter() - started)
                if replies.setdefault(side, texts) != texts:
                    raise RuntimeError(f"{side}: greedy replies changed between rounds")
                if side == "saved" and model.prefix_states is not None:
                    skipped = model.prefix_states.tokens_skipped
    finally:
        plain.close()
        saved.close()
    return {
        "seconds": {side: statistics.median(v) for side, v in seconds.items()},
        "rounds": seconds,
        "same_replies": replies["plain"] == replies["saved"],
        "prompt_tokens": prompt_tokens,
        "tokens_skipped": skipped,
    }


def run(rounds: int | None = None, models: Sequence[str] = MODELS) -> None:
    from collab.models.catalog import model_path

    rows, details = [], {}
    for name in models:
        if not model_path(name, pull=False).is_file():
            print(f"{name} is not pulled: skipped (collab models pull {name})")
            continue
        result = measure(name, rounds or ROUNDS)
        details[name] = result
        plain, saved = result["seconds"]["plain"], result["seconds"]["saved"]
        rows.append(
            Row(
                name=f"six prompts on three excerpts ({name})",
                ours=saved,
                baseline=plain,
                unit="s",
                ratio=saved / plain,
                target="< 1x, same replies",
                met=saved < plain and result["same_replies"],
                note=f"{result['tokens_skipped']} of {result['prompt_tokens']} prompt tokens "
                "restored, not evaluated",
            )
        )
    path = report("Saved prompt states (prefix_cache_mb)", rows, "prefix_states.json")
    print(f"details: {details}\nresults: {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prefix_states")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args(argv)
    run(args.rounds, args.models)


if __name__ == "__main__":
    main()
