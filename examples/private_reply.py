"""Draft replies to customer messages without showing the remote LLM anyone's personal data.

SmolLM2-135M (in-process through llama.cpp) lists the person names in each message;
collab's detectors find emails, phone numbers, card numbers (Luhn-checked), IBANs, API keys
and IP addresses. The remote LLM (the embedded OpenAI-compatible server over HTTP through
LiteLLM, or any provider model given with ``--llm``) sees placeholders such as <EMAIL_1>
only; its reply is restored on this machine. Messages holding a card number or an IBAN are
answered by the SLM and never leave it. The end shows what the LLM saw, the restored replies,
and the ledger, which records what was redacted by type and count, never by value.

    collab run private_reply
    collab run private_reply -- "Please call Jane Doe on +1 415 555 0132 about order 77."
"""

from __future__ import annotations

import argparse
from typing import Any

from collab.examples._session import open_session
from collab.patterns.privacy_guard import PrivacyGuardConfig
from rich.console import Console
from rich.table import Table

import collab
from collab.patterns import privacy_guard

DEFAULT_MESSAGES = [
    "Hi, this is Maria Garcia. Please send the receipt to maria.garcia@example.com and "
    "call me on +34 612 345 678 if anything is missing.",
    "My card 4111 1111 1111 1111 was charged twice for order 5531. Can you refund one?",
    "Our server at 10.0.4.17 rejects the key sk-proj-Ab12Cd34Ef56Gh78Ij90 since Monday.",
]
SYSTEM = (
    "You are a support agent. Write a short, polite reply to the customer's message. "
    "Placeholders such as <EMAIL_1> or <NAME_1> stand for private values: keep them exactly "
    "as written."
)


def build_graph(slm: collab.Model, llm: collab.Model) -> Any:
    """The guard: find_names (SLM) -> redact -> ask (LLM, placeholders) | answer_locally."""
    config = PrivacyGuardConfig(local_types=("CARD", "IBAN"), system=SYSTEM, answer_max_tokens=120)
    return privacy_guard.build(slm=slm, llm=llm, config=config)


def replies_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="replies")
    for column in ("what the remote LLM saw", "redacted", "reply (restored)", "by"):
        table.add_column(column, overflow="fold")
    for final in rows:
        details = final["details"]
        saw = details["remote_prompt"] or f"(nothing: kept local for {details['kept_local_for']})"
        counts = ", ".join(f"{k} x{v}" for k, v in details["redactions"].items()) or "-"
        table.add_row(saw, counts, final["answer"], final["answered_by"])
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="collab run private_reply", description=__doc__.split("\n")[0]
    )
    parser.add_argument("messages", nargs="*", help="messages (default: three built-in ones)")
    parser.add_argument("--llm", help="LiteLLM model string for the remote LLM (default: embedded)")
    parser.add_argument(
        "--budget-usd", type=float, default=0.001, help="remote spend cap in USD (default 0.001)"
    )
    parser.add_argument("--trace", help="write every event to this JSONL file")
    return parser.parse_args(argv or [])


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    messages = args.messages or DEFAULT_MESSAGES
    console = Console()
    budget = collab.Budget(usd=args.budget_usd, policy="degrade")
    with open_session(console, budget=budget, llm=args.llm, trace=args.trace) as session:
        graph = build_graph(session.slm, session.llm)
        finals = []
        with session.live():
            for message in messages:
                finals.append(await graph.ainvoke({"question": message}))
        console.print(replies_table(finals))
        session.print_ledger("node")
        redacted = [r.redactions for r in session.run.ledger.records if r.redactions]
        console.print(f"the ledger's redaction records (types and counts only): {redacted}")
        session.print_trace_note()
    return 0


if __name__ == "__main__":
    import sys

    from collab.cli.run_cmd import run_main

    sys.exit(run_main(main, sys.argv[1:]))
