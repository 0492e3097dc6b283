"""Which catalog model makes the better embedded "remote LLM"? Ask both the same questions.

Each model is served by ``EmbeddedServer`` and asked over HTTP through LiteLLM (greedy), exactly
as the examples use it; answers are scored by whether they contain the expected text.

    python -m bench.choose_server_model
"""

from __future__ import annotations

import statistics

from bench.report import RESULTS
from collab.models.server import EmbeddedServer

QUESTIONS: list[tuple[str, list[str]]] = [
    ("What is the capital of France?", ["paris"]),
    ("What is the capital of Japan?", ["tokyo"]),
    ("What is the capital of Italy?", ["rome"]),
    ("What is 2 + 2?", ["4", "four"]),
    ("What is 10 minus 3?", ["7", "seven"]),
    ("What is 5 times 6?", ["30", "thirty"]),
    ("How many days are in a week?", ["7", "seven"]),
    ("How many legs does a spider have?", ["8", "eight"]),
    ("What color is the sky on a clear day?", ["blue"]),
    ("What is the chemical symbol for water?", ["h2o"]),
    ("What is the largest planet in the solar system?", ["jupiter"]),
    ("Who wrote Romeo and Juliet?", ["shakespeare"]),
    ("What is the opposite of hot?", ["cold"]),
    ("What is the freezing point of water in Celsius?", ["0", "zero"]),
    ("Which animal is known as the king of the jungle?", ["lion"]),
    ("What language is spoken in Spain?", ["spanish"]),
    ("How many continents are there?", ["7", "seven"]),
    ("What gas do plants absorb from the air?", ["carbon dioxide", "co2"]),
    ("Answer with one word: what is the color of grass?", ["green"]),
    ("What is the first letter of the English alphabet?", ["a"]),
]

CANDIDATES = ["smollm2-135m-instruct", "gemma3-270m"]


def is_right(answer: str, expected: list[str]) -> bool:
    text = answer.lower()
    if expected == ["a"]:
        return text.strip().strip("\"'.").startswith("a") or '"a"' in text or "'a'" in text
    return any(e in text for e in expected)


def measure(model: str) -> dict[str, object]:
    right, latencies, rates = 0, [], []
    samples = []
    with EmbeddedServer(model) as server:
        llm = server.remote_model()
        for question, expected in QUESTIONS:
            done = llm.complete(
                [
                    {"role": "system", "content": "Answer briefly and correctly."},
                    {"role": "user", "content": question},
                ],
                max_tokens=32,
            )
            ok = is_right(done.text, expected)
            right += ok
            latencies.append(done.latency_s)
            rates.append(done.usage.completion_tokens / max(done.latency_s, 1e-9))
            samples.append({"question": question, "answer": done.text, "right": ok})
    return {
        "model": model,
        "accuracy": right / len(QUESTIONS),
        "mean_latency_s": statistics.mean(latencies),
        "median_tokens_per_s": statistics.median(rates),
        "samples": samples,
    }


def main() -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    results = [measure(model) for model in CANDIDATES]
    table = Table(title=f"embedded server candidates ({len(QUESTIONS)} questions, greedy)")
    for column in ("model", "accuracy", "mean latency (s)", "tokens/s"):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r["model"]),
            f"{r['accuracy']:.0%}",
            f"{r['mean_latency_s']:.2f}",
            f"{r['median_tokens_per_s']:.0f}",
        )
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "choose_server_model.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
