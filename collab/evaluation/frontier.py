"""The Pareto frontier of cost-quality points: what no other point beats on both."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["pareto_front"]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices (ascending) of the ``(cost, quality)`` points no other point dominates.

    A point dominates another when it costs no more and is no worse, and is strictly better on
    one of the two; equal points do not dominate each other (both stay on the front).
    """
    front = []
    for i, (cost, quality) in enumerate(points):
        dominated = any(
            c <= cost and q >= quality and (c < cost or q > quality)
            for j, (c, q) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front
