"""Entry point of the ``collab`` command: parse, dispatch, render errors as one line + hint."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from collab import __version__
from collab.cli import eval_cmd, models_cmd, run_cmd, serve_cmd
from collab.cli.exit_codes import EPILOG, ExitCode, exit_code_for
from collab.errors import CollabError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collab",
        description="Small local models and large remote ones, working together on a budget.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"collab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (models_cmd, serve_cmd, run_cmd, eval_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (``collab --help`` lists them)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error, as argparse does
    if not getattr(args, "handler", None):
        parser.print_help()
        return ExitCode.USAGE
    try:
        return int(args.handler(args) or 0)
    except CollabError as exc:
        if args.debug:
            raise
        _print_error(exc.message, exc.hint)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return exit_code_for(exc)
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if args.debug:
            raise
        _print_error(
            f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug in collab or an example; rerun with --debug and report it",
        )
        return ExitCode.FAILURE


def _print_error(message: str, hint: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False)
    console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    if hint:
        console.print(f"[yellow]hint:[/] {escape(hint)}", markup=True, soft_wrap=True)
    console.print("[dim](run with --debug for the traceback)[/]", markup=True)


if __name__ == "__main__":
    sys.exit(main())
