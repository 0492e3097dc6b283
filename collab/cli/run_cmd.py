"""``collab run NAME``: run one of the example agents in ``examples/``."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from collab.errors import UserError

__all__ = ["examples_dir", "load_example", "register"]


def examples_dir() -> Path:
    """The ``examples/`` folder of the source tree this collab runs from."""
    return Path(__file__).resolve().parents[2] / "examples"


def available_examples() -> dict[str, Path]:
    folder = examples_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


def load_example(name_or_path: str) -> ModuleType:
    """Import an example by name (``examples/NAME.py``) or by a path to a ``.py`` file."""
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
        path = examples[name_or_path]
    if not path.is_file():
        raise UserError(f"example file {path} does not exist", hint="check the path")
    spec = importlib.util.spec_from_file_location(f"collab_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
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
        for name, path in available_examples().items():
            doc = (load_example(str(path)).__doc__ or "").strip().splitlines()
            table.add_row(name, doc[0] if doc else "")
        Console().print(table)
        return 0
    module = load_example(args.name)
    main = module.main
    params = inspect.signature(main).parameters
    result = main(list(args.args)) if params else main()
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return int(result or 0)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run an example agent", description="Run an example agent from examples/."
    )
    parser.add_argument("name", nargs="?", help="example name (omit to list them) or a .py path")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the example")
    parser.set_defaults(handler=_run)
