"""Whether a call picked the tool its request reads like, found with no model.

Offered several tools, a small model sometimes calls a neighbour of the right one (Ampère's
law for a question about the field of a current at a distance, which Biot-Savart's law
answers). ``better_fitting_tool`` scores each offered tool's name and description against
the request (BM25, as ``RagIndex`` ranks passages) and names a tool that fits clearly better
than every one called. It needs ``bm25s`` (``pip install 'collab[rag]'``).
"""

from __future__ import annotations

from collections.abc import Sequence

from collab.tools import Tool, ToolLike, as_tools
from collab.types import ToolCall

from .rag_index import bm25_scores

__all__ = ["FIT_MARGIN", "better_fitting_tool"]

FIT_MARGIN = 0.5
"""How much better another tool must fit than every one called (0.5: its score 1.5 times
theirs). On BFCL's ``multiple`` expected calls, no tool outscored the expected one by half."""


def better_fitting_tool(
    calls: Sequence[ToolCall],
    request: str,
    tools: Sequence[ToolLike],
    *,
    margin: float = FIT_MARGIN,
) -> str | None:
    """Why ``calls`` may have picked the wrong tool: an offered tool whose name and
    description fit ``request`` better by ``margin`` than every called one's, named with
    its description; ``None`` when the called tools fit best, or fewer than two are offered."""
    offered = as_tools(list(tools))
    called = {c.name for c in calls}
    if len(offered) < 2 or not called:
        return None
    fits = bm25_scores([_text(t) for t in offered], request)
    scores = dict(zip((t.name for t in offered), fits, strict=True))
    best = max(offered, key=lambda t: scores[t.name])
    fit = max(scores.get(name, 0.0) for name in called)
    if best.name in called or scores[best.name] <= fit * (1 + margin):
        return None
    return (
        f"{', '.join(sorted(called))} may not be the tool the request asks for: "
        f"{best.name} fits it better ({best.description.strip()[:200]})"
    )


def _text(tool: Tool) -> str:
    """A tool's name as words, and its description."""
    return f"{tool.name.replace('_', ' ').replace('.', ' ')} {tool.description}"
