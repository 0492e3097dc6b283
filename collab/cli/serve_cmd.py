"""``collab serve``: the embedded OpenAI-compatible server, in the foreground."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _serve(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.panel import Panel

    from collab.models.server import EmbeddedServer

    console = Console()
    server = EmbeddedServer(args.model, port=args.port, chat_format=args.chat_format)
    with console.status(f"starting the embedded server for {args.model}..."):
        server.start()
    try:
        console.print(
            Panel(
                f"base URL   [bold]{server.base_url}[/]\n"
                f"model      {args.model} (alias {server.model_alias})\n"
                f"LiteLLM    model=[bold]openai/{server.model_alias}[/] "
                f"api_base={server.base_url}\n"
                "Ctrl-C stops it.",
                title="collab serve",
            )
        )
        while server.running:
            time.sleep(0.5)
        console.print("[red]the server stopped on its own[/]")
        return 1
    except KeyboardInterrupt:
        console.print("stopping...")
        return 0
    finally:
        server.stop()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from collab.models.server import DEFAULT_SERVER_MODEL

    parser = subparsers.add_parser("serve", help="run the embedded OpenAI-compatible server")
    parser.add_argument("--model", default=DEFAULT_SERVER_MODEL, help="catalog name or .gguf path")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--chat-format", default=None, help="llama-cpp-python chat format")
    parser.set_defaults(handler=_serve)
