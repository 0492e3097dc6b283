"""A same-vocabulary drafter made from the target itself: a GGUF that keeps some of its layers.

Self-speculative decoding (Zhang et al., 2023, "Draft & Verify"; Elhoushi et al., 2024,
"LayerSkip") drafts with the target minus some of its layers: same tokenizer, same
embeddings and output head, no second model to ship. ``skip_layers`` writes that GGUF with
the ``gguf`` package (``pip install gguf``): the chosen blocks are copied byte for byte and
renumbered, and the block count is rewritten; nothing is re-quantized.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collab.errors import UserError

__all__ = ["skip_layers", "spread_layers"]

_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)$")


def spread_layers(n_layers: int, keep: int, *, head: int = 2, tail: int = 2) -> list[int]:
    """``keep`` of ``n_layers`` layers: the first ``head`` and last ``tail`` (which read the
    embeddings and write the output space), and the rest spread evenly in between."""
    if not 0 < keep <= n_layers:
        raise UserError(f"cannot keep {keep} of {n_layers} layers", hint="0 < keep <= layers")
    head, tail = min(head, keep), min(tail, keep - min(head, keep))
    middle = keep - head - tail
    inner = list(range(head, n_layers - tail))
    step = len(inner) / middle if middle else 0.0
    chosen = [inner[int(i * step + step / 2)] for i in range(middle)]
    return [*range(head), *chosen, *range(n_layers - tail, n_layers)]


def skip_layers(source: str | Path, target: str | Path, layers: Sequence[int]) -> Path:
    """Write ``target``: the GGUF model ``source`` with only ``layers`` (in that order).

    Raises ``UserError`` when ``gguf`` is missing, the file has no ``block_count``, or a
    layer index is out of range.
    """
    try:
        from gguf import GGUFReader, GGUFValueType, GGUFWriter
    except ImportError:
        raise UserError(
            "writing a layer-skipping drafter needs the gguf package",
            hint="pip install gguf",
        ) from None
    source, target = Path(source).expanduser(), Path(target).expanduser()
    reader = GGUFReader(source)
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise UserError(f"{source} has no general.architecture", hint="pass a GGUF model file")
    arch = str(arch_field.contents())
    count_key = f"{arch}.block_count"
    if count_key not in reader.fields:
        raise UserError(f"{source} has no {count_key}", hint="pass a transformer GGUF model")
    n_layers = int(reader.fields[count_key].contents())
    layers = list(layers)
    if not layers or any(not 0 <= i < n_layers for i in layers) or len(set(layers)) != len(layers):
        raise UserError(
            f"layers must be distinct indices in 0..{n_layers - 1}, got {layers}",
            hint="e.g. spread_layers(n_layers, keep=8)",
        )
    renumber = {old: new for new, old in enumerate(layers)}
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(target, arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        kind = field.types[0]
        value: Any = len(layers) if field.name == count_key else field.contents()
        if _per_layer(field, n_layers):
            value = [value[i] for i in layers]  # per-layer arrays follow the kept layers
        sub = field.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    kept = []
    for tensor in reader.tensors:
        match = _BLOCK.match(tensor.name)
        if match is not None:
            old = int(match.group(1))
            if old not in renumber:
                continue
            name = f"blk.{renumber[old]}.{match.group(2)}"
        else:
            name = tensor.name
        kept.append((name, tensor))
    # Blocks in their new order, so the file reads like one written that way.
    kept.sort(key=lambda item: _order(item[0]))
    for name, tensor in kept:
        writer.add_tensor_info(
            name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, tensor in kept:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return target


def _per_layer(field: object, n_layers: int) -> bool:
    """An array field with one entry per layer (e.g. head counts of a mixed model)."""
    from gguf import GGUFValueType

    types = getattr(field, "types", [])
    if not types or types[0] != GGUFValueType.ARRAY or types[-1] == GGUFValueType.STRING:
        return False
    return len(getattr(field, "data", [])) == n_layers


def _order(name: str) -> tuple[int, int, str]:
    match = _BLOCK.match(name)
    if match is None:
        return (0 if name.startswith("token_embd") else 2, 0, name)
    return (1, int(match.group(1)), match.group(2))
