"""Edit a document with the remote LLM, the local SLM's draft of the edit as its prediction.

The SLM (SmolLM2-135M, in-process, with speculative decoding: an edit is mostly a copy, so
prompt lookup drafts most of it) writes the edited document first; the LLM then makes the
edit with that draft as its predicted output (OpenAI's ``prediction``, through LiteLLM), so a
provider with predicted outputs emits the unchanged stretches quickly. With a provider that
has no predicted outputs (``--llm anthropic/...``) the SLM drafts nothing and the LLM edits
alone: speculation costs nothing where it cannot help. The default LLM is the embedded
OpenAI-compatible server, which accepts the prediction and ignores it.

The end shows the edit as a diff, how much of it the draft predicted, the SLM's speculative
decoding counters and the ledger.

    collab run edit_document
    collab run edit_document -- --instruction "Make the port 9090." --llm openai/gpt-4o-mini
"""

from __future__ import annotations

import argparse
import difflib
import time
from pathlib import Path
from typing import Any

from collab.examples._session import open_session
from collab.patterns.speculative import EditConfig
from rich.console import Console
from rich.syntax import Syntax

import collab
from collab.patterns import speculative

DEFAULT_DOCUMENT = """\
# service.toml: the order service
[server]
host = "0.0.0.0"
port = 8080
workers = 4

[database]
url = "postgres://orders@db.internal:5432/orders"
pool_size = 10
timeout_s = 30

[logging]
level = "info"
format = "json"
"""
DEFAULT_INSTRUCTION = "Change the port to 9090 and the logging level to debug."


def build_graph(slm: collab.Model, llm: collab.Model, *, predict: bool = True) -> Any:
    """The speculative-edit pattern: [SLM draft ->] LLM edit with the draft as prediction."""
    return speculative.build(slm=slm, llm=llm, config=EditConfig(predict=predict))


def diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "document", "edited", lineterm=""
    )
    return "\n".join(lines) or "(no change)"


def draft_lines(final: dict[str, Any]) -> list[str]:
    details = final.get("details", {})
    if not details.get("predicted"):
        return ["no draft: the LLM cannot use a predicted output, so the SLM drafted nothing"]
    lines = [
        f"the SLM's draft matched {100 * details['draft_similarity']:.0f}% of the LLM's edit "
        "and went to it as the predicted output"
    ]
    stats = details.get("draft_speculation")
    if stats:
        drafted, accepted = stats["drafted"], stats["accepted"]
        lines.append(
            f"the SLM drafted it speculatively: {stats['tokens']} tokens in "
            f"{stats['target_decodes']} decodes, {accepted} of {drafted} lookup tokens accepted"
            + (f", ~{stats['est_speedup']:.2f}x plain decoding" if stats["est_speedup"] else "")
        )
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run edit_document", description=__doc__.split("\n")[0]
    )
    parser.add_argument("document", nargs="?", help="a file to edit (default: a built-in one)")
    parser.add_argument("--instruction", default=DEFAULT_INSTRUCTION, help="what to change")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--no-predict", action="store_true", help="let the LLM edit alone, without a draft"
    )
    parser.add_argument(
        "--budget-usd", type=float, default=0.01, help="remote spend cap in USD (default 0.01)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    document = Path(args.document).read_text() if args.document else DEFAULT_DOCUMENT
    console = Console()
    started = time.perf_counter()
    with open_session(
        console,
        budget=collab.Budget(usd=args.budget_usd),
        llm=args.llm,
        trace=args.trace,
        speculative=True,
    ) as session:
        slm, llm = session.slm, session.llm
        graph = build_graph(slm, llm, predict=not args.no_predict)
        with session.live():
            final = graph.invoke({"question": args.instruction, "document": document})
        console.print(Syntax(diff(document, final["answer"]), "diff", word_wrap=True))
        for line in draft_lines(final):
            console.print(line)
        session.print_ledger("node")
        console.print(f"wall time {time.perf_counter() - started:.1f} s")
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
