"""``collab models``: list, pull, locate and check models."""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def _list(args: argparse.Namespace) -> int:
    from collab.models import catalog

    entries = catalog.list_models()
    rows = [
        {
            "name": e.name,
            "size_mb": round(e.size_bytes / 1e6, 1) if e.size_bytes else None,
            "source": e.source.describe(),
            "chat_format": e.chat_format or "from GGUF",
            "kind": "base" if e.is_base_model else "instruct",
            "roles": list(e.roles),
            "pulled": catalog.is_pulled(e.name),
            "path": str(catalog.models_dir() / e.filename),
        }
        for e in entries
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"collab models (cache: {catalog.models_dir()})")
    for column in ("name", "size", "source", "chat format", "kind", "roles", "pulled"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['size_mb']} MB" if row["size_mb"] else "?",
            row["source"],
            row["chat_format"],
            row["kind"],
            ", ".join(row["roles"]),
            "yes" if row["pulled"] else "no",
        )
    Console().print(table)
    return 0


def _pull(args: argparse.Namespace) -> int:
    from collab.models import catalog

    entries = [catalog.get_entry(name) for name in args.names]  # unknown names fail before work
    for entry in entries:
        path = catalog.pull(entry.name, force=args.force, progress=not args.quiet)
        print(f"{entry.name}: ready at {path}")
    return 0


def _path(args: argparse.Namespace) -> int:
    from collab.models import catalog

    print(catalog.model_path(args.name, pull=False))
    return 0


def _check(args: argparse.Namespace) -> int:
    from collab.models.gguf_file import check_gguf

    info = check_gguf(args.path)
    print(
        f"{info.path}: GGUF v{info.version}, {info.architecture}, {info.name!r}, "
        f"{info.tensor_count} tensors, {info.actual_size / 1e6:.1f} MB, whole; "
        f"context {info.context_length}, chat template: {'yes' if info.chat_template else 'no'}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("models", help="list, pull and check models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the catalog, and what is pulled")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)
    pulling = actions.add_parser("pull", help="fetch and verify models (idempotent)")
    pulling.add_argument("names", nargs="+", metavar="NAME")
    pulling.add_argument("--force", action="store_true", help="fetch again even if verified")
    pulling.add_argument("--quiet", action="store_true", help="no progress bar")
    pulling.set_defaults(handler=_pull)
    locating = actions.add_parser("path", help="print the local file of a pulled model")
    locating.add_argument("name")
    locating.set_defaults(handler=_path)
    checking = actions.add_parser("check", help="check that a file is a whole, valid GGUF")
    checking.add_argument("path")
    checking.set_defaults(handler=_check)
