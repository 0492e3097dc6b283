"""Constrained tool-call decoding: ms per token against free decoding of the same prompt.

Eight BFCL-like calls (one tool each, ``tool_choice="required"``), greedy, prompt cached, on
SmolLM2-135M and Qwen2.5-Coder-0.5B (when pulled). Three ways to decode, interleaved per
round so all see the same machine state, medians over rounds:

- free: plain decoding of the same prompt (no grammar);
- chain grammar: llama-cpp-python's ``grammar=`` (the grammar sampler masks the whole
  vocabulary at every token), the same GBNF;
- checked grammar: ``collab.models.grammar_check`` (the chosen token is checked alone; the
  vocabulary is masked only when the grammar rejects it), what ``LocalModel`` uses.

Target: checked grammar <= 1.2x free per token.

    python -m bench.constrained [--rounds N] [--max-tokens N] [--models NAME ...]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.report import Row, report

ROUNDS = 3
MAX_TOKENS = 64
THREADS = 2


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": [*properties]},
        },
    }


_S, _I, _N = {"type": "string"}, {"type": "integer"}, {"type": "number"}
CASES: list[tuple[dict[str, Any], str]] = [
    (
        _tool("calculate_triangle_area", "Area of a triangle.", {"base": _I, "height": _I}),
        "Find the area of a triangle with a base of 10 units and height of 5 units.",
    ),
    (
        _tool(
            "get_weather",
            "Current weather in a city.",
            {"city": _S, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ),
        "What is the weather like in Boston, in fahrenheit?",
    ),
    (
        _tool("math_factorial", "Factorial of a number.", {"number": _I}),
        "Calculate the factorial of 5.",
    ),
    (
        _tool(
            "convert_currency",
            "Convert an amount between currencies.",
            {"amount": _N, "from_currency": _S, "to_currency": _S},
        ),
        "How much is 250 euros in Japanese yen?",
    ),
    (
        _tool(
            "find_restaurants",
            "Find restaurants near a place.",
            {"location": _S, "cuisine": _S, "max_results": _I},
        ),
        "Find me 3 Italian restaurants in Chicago.",
    ),
    (
        _tool(
            "book_flight",
            "Book a flight.",
            {"origin": _S, "destination": _S, "date": {"type": "string", "format": "date"}},
        ),
        "Book a flight from New York to London on 2024-05-12.",
    ),
    (
        _tool("calculate_bmi", "Body mass index.", {"weight_kg": _N, "height_m": _N}),
        "What's the BMI of someone who weighs 70 kg and is 1.75 m tall?",
    ),
    (
        _tool("search_books", "Search books by author and year.", {"author": _S, "year": _I}),
        "Find books by Ursula K. Le Guin published in 1969.",
    ),
]


def measure(model_name: str) -> dict[str, Any]:
    """Per-token times of the three decoders on ``model_name``, and the checked one's
    rejections."""
    from llama_cpp.llama_grammar import LlamaGrammar

    from collab import LocalModel
    from collab.models.local_generation import SAMPLING, StreamStats, eog_checker
    from collab.models.local_generation import generate_deltas as free_deltas
    from collab.models.local_tools import generate_tool_text, tool_grammar
    from collab.models.tool_calls import ToolRequest
    from collab.speculative.context import Context

    model = LocalModel(model_name, n_threads=THREADS, n_ctx=2048)
    prepared = []
    for spec, question in CASES:
        request = ToolRequest.of([spec], "required")
        assert request is not None
        tokens, stops = model._prompt_tokens(question, request)
        gbnf, _ = tool_grammar(request)
        prepared.append((request, tokens, stops, gbnf))

    def free(llm: Any, case: tuple[Any, ...]) -> tuple[int, int]:
        _, tokens, stops, _ = case
        stats = StreamStats()
        deltas = free_deltas(
            llm,
            tokens,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            stop=stops,
            seed=0,
            stats=stats,
            is_eog=eog_checker(llm),
        )
        "".join(deltas)
        return stats.completion_tokens, 0

    def chain(llm: Any, case: tuple[Any, ...]) -> tuple[int, int]:
        _, tokens, stops, gbnf = case
        out = llm.create_completion(
            tokens,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            stop=stops,
            grammar=LlamaGrammar.from_string(gbnf, verbose=False),
            **SAMPLING,
        )
        return int(out["usage"]["completion_tokens"]), 0

    def checked(llm: Any, case: tuple[Any, ...]) -> tuple[int, int]:
        request, tokens, stops, _ = case
        stats = StreamStats()
        _, rejected = generate_tool_text(
            llm,
            tokens,
            request,
            stops=stops,
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            seed=0,
            stats=stats,
        )
        return stats.completion_tokens, rejected

    decoders = {"free": free, "chain": chain, "checked": checked}
    per_round: dict[str, list[float]] = {name: [] for name in decoders}
    tokens_seen: dict[str, int] = dict.fromkeys(decoders, 0)
    rejections = 0
    with model.hold() as llm:
        context = Context(llm)
        for case in prepared:  # warm-up: page in weights, cache each prompt once
            free(llm, case)
        for _ in range(ROUNDS):
            seconds: dict[str, float] = dict.fromkeys(decoders, 0.0)
            counts: dict[str, int] = dict.fromkeys(decoders, 0)
            for case in prepared:
                for name, decode in decoders.items():
                    context.prefill(case[1])  # the prompt cached exactly: no prefill is timed
                    started = time.perf_counter()
                    n, rejected = decode(llm, case)
                    seconds[name] += time.perf_counter() - started
                    counts[name] += n
                    if name == "checked":
                        rejections += rejected
            for name in decoders:
                per_round[name].append(1000 * seconds[name] / max(counts[name], 1))
                tokens_seen[name] += counts[name]
    model.close()
    return {
        "ms_per_token": {name: statistics.median(v) for name, v in per_round.items()},
        "rounds": per_round,
        "tokens": tokens_seen,
        "rejections_per_token": rejections / max(tokens_seen["checked"], 1),
    }


MODELS = ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")


def run(
    rounds: int | None = None, max_tokens: int | None = None, models: Sequence[str] = MODELS
) -> None:
    """Measure ``models`` and save their rows; rows of other models already saved are kept
    (so a loaded machine can measure one model per invocation)."""
    from collab.models.catalog import model_path

    global ROUNDS, MAX_TOKENS
    ROUNDS, MAX_TOKENS = rounds or ROUNDS, max_tokens or MAX_TOKENS
    load_before = os.getloadavg()
    pending: list[tuple[str, dict[str, Any]]] = []
    for name in models:
        try:
            model_path(name, pull=False)
        except Exception as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        pending.append((name, measure(name)))
    load = f"load avg before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}"
    rows = [row for row in _saved_rows() if not any(name in row.name for name, _ in pending)]
    for name, result in pending:
        ms = result["ms_per_token"]
        note = (
            f"median of {ROUNDS} interleaved rounds x {len(CASES)} calls, {THREADS} threads, "
            f"max {MAX_TOKENS} tokens; {result['rejections_per_token']:.3f} rejections/token; "
            f"{load}"
        )
        rows.append(
            Row(
                f"checked grammar vs free ({name})",
                ms["checked"],
                ms["free"],
                "ms/token",
                ms["checked"] / ms["free"],
                "<= 1.2",
                ms["checked"] / ms["free"] <= 1.2,
                note,
            )
        )
        rows.append(
            Row(
                f"llama-cpp-python chain grammar vs free ({name})",
                ms["chain"],
                ms["free"],
                "ms/token",
                ms["chain"] / ms["free"],
                "baseline",
                None,
                note,
            )
        )
    report("Constrained tool-call decoding", rows, "constrained.json")


def _saved_rows() -> list[Row]:
    from bench.report import RESULTS

    path = RESULTS / "constrained.json"
    if not path.is_file():
        return []
    return [Row(**row) for row in json.loads(path.read_text())["rows"]]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--cases", type=int, default=len(CASES), help="the first N calls only")
    args = parser.parse_args()
    CASES = CASES[: args.cases]
    run(args.rounds, args.max_tokens, args.models)
