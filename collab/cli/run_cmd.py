"""``collab run NAME``: run one of the example agents shipped as ``collab.examples``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from pathlib import Path
from types import ModuleType
from typing import Any

from collab.errors import UserError

__all__ = ["available_examples", "examples_dir", "load_example", "register", "run_main"]

EXAMPLES_PACKAGE = "collab.examples"


def examples_dir() -> Path:
    """Where the examples are: ``examples/`` in a checkout, ``collab/examples`` installed."""
    package = importlib.import_module(EXAMPLES_PACKAGE)
    return Path(next(iter(package.__path__)))


def available_examples() -> dict[str, Path]:
    """Example name -> its file (modules whose name starts with ``_`` are not examples)."""
    folder = examples_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


def run_main(main: Callable[..., Any], argv: Sequence[str] = ()) -> int:
    """Call an example's ``main`` (sync or async, with ``argv`` if it takes arguments).

    An async ``main`` runs on a fresh event loop *without* asyncio's SIGINT handler: that
    handler only cancels the task on the first Ctrl-C, which a synchronous ``graph.invoke``
    inside the coroutine never notices. Here one Ctrl-C raises ``KeyboardInterrupt`` where the
    program is, the coroutine's ``with`` blocks close (the embedded server stops) and it
    propagates.
    """
    params = inspect.signature(main).parameters
    result = main(list(argv)) if params else main()
    if inspect.iscoroutine(result):
        result = _run_coroutine(result)
    return int(result or 0)


def _run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    try:
        return loop.run_until_complete(task)
    except KeyboardInterrupt:
        if not task.done():  # interrupted while the loop waited: let the task clean up
            task.cancel()
            with suppress(BaseException):
                loop.run_until_complete(task)
        raise
    finally:
        with suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def load_example(name_or_path: str) -> ModuleType:
    """Import an example by name (``collab.examples.NAME``) or by a path to a ``.py`` file."""
    path = Path(name_or_path)
    if path.suffix != ".py":
        examples = available_examples()
        if name_or_path not in examples:
            import difflib

            close = difflib.get_close_matches(name_or_path, list(examples), n=3)
            guess = f"did you mean {', '.join(close)}? " if close else ""
            raise UserError(
                f"no example named {name_or_path!r}",
                hint=f"{guess}`collab run` with no name lists them ({', '.join(examples)})",
            )
        module = importlib.import_module(f"{EXAMPLES_PACKAGE}.{name_or_path}")
        return _checked(module, examples[name_or_path])
    if not path.is_file():
        raise UserError(f"example file {path} does not exist", hint="check the path")
    spec = importlib.util.spec_from_file_location(f"collab_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return _checked(module, path)


def _checked(module: ModuleType, path: Path) -> ModuleType:
    if not hasattr(module, "main"):
        raise UserError(f"example {path} has no main()", hint="define `async def main(argv)`")
    return module


def _run(args: argparse.Namespace) -> int:
    if not args.name:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="examples (collab run NAME)")
        table.add_column("name", style="bold")
        table.add_column("what it does")
        for name in available_examples():
            doc = (load_example(name).__doc__ or "").strip().splitlines()
            table.add_row(name, doc[0] if doc else "")
        Console().print(table)
        return 0
    return run_main(load_example(args.name).main, args.args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run an example agent",
        description="Run an example agent (shipped in collab.examples) or a .py file.",
    )
    parser.add_argument("name", nargs="?", help="example name (omit to list them) or a .py path")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the example")
    parser.set_defaults(handler=_run)
