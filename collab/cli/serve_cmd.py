"""``collab serve``: the embedded OpenAI-compatible server (or N replicas), in the foreground."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from collab.models.replicas import Replicas
    from collab.models.server import EmbeddedServer

__all__ = ["register"]


def _serve(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    group: EmbeddedServer | Replicas
    describe: Callable[[], str]
    if args.replicas > 1:
        from collab.models.replicas import Replicas

        replicas = Replicas(
            args.model, count=args.replicas, n_threads=args.threads, chat_format=args.chat_format
        )
        group, servers, what = replicas, replicas.servers, f"{args.replicas} replicas"
        describe = partial(_describe_replicas, replicas)
    else:
        from collab.models.server import EmbeddedServer

        server = EmbeddedServer(
            args.model, port=args.port, chat_format=args.chat_format, n_threads=args.threads
        )
        group, servers, what = server, [server], "the embedded server"
        describe = partial(_describe_server, server, args.model)
    with console.status(f"starting {what} of {args.model}..."):
        group.start()
    try:
        console.print(Panel(describe() + "\nCtrl-C stops it.", title="collab serve"))
        return _watch(console, servers)
    except KeyboardInterrupt:
        console.print("stopping...")
        return 0
    finally:
        group.stop()


def _describe_server(server: EmbeddedServer, model: str) -> str:
    return (
        f"base URL   [bold]{server.base_url}[/]\n"
        f"model      {model} (alias {server.model_alias})\n"
        f"LiteLLM    model=[bold]openai/{server.model_alias}[/] api_base={server.base_url}"
    )


def _describe_replicas(replicas: Replicas) -> str:
    from rich.markup import escape

    deployments = replicas.deployments()
    urls = "\n".join(f"{d.id:<10} {d.api_base}" for d in deployments)
    config = json.dumps(replicas.router_config(), indent=2)
    return escape(
        f"{urls}\n\nIn Python, one model over all of them (LiteLLM Router: least-busy, a failed "
        "call retried on another replica, a failing one cooled down):\n"
        f"  collab.RemoteModel.from_deployments({deployments!r})\n\n"
        f"LiteLLM proxy config (`litellm --config`):\n{config}"
    )


def _watch(console: Console, servers: list[EmbeddedServer]) -> int:
    """Wait while any server runs, saying when one stops; 1 once none is left."""
    stopped: set[int] = set()
    while any(server.running for server in servers):
        for i, server in enumerate(servers):
            if len(servers) > 1 and not server.running and i not in stopped:
                stopped.add(i)
                console.print(f"[yellow]replica-{i} stopped; the others go on serving[/]")
        time.sleep(0.5)
    console.print("[red]the server stopped on its own[/]")
    return 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from collab.models.server import default_server_model

    parser = subparsers.add_parser("serve", help="run the embedded OpenAI-compatible server")
    parser.add_argument(
        "--model",
        default=default_server_model(),
        help="catalog name or .gguf path (default: $COLLAB_SERVER_MODEL, else the 1.5B Qwen)",
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--chat-format", default=None, help="llama-cpp-python chat format")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="start N servers on loopback, for one LiteLLM Router over them (default 1)",
    )
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads per server")
    parser.set_defaults(handler=_serve)
