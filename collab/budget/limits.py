"""``Budget``: the limits of a run, and optionally of each node and role inside it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from collab.errors import UserError

if TYPE_CHECKING:
    from collab.budget.policies import BudgetPolicy

__all__ = ["LIMIT_NAMES", "Budget", "LimitName", "LimitScope", "PolicyName"]

LimitName = Literal["usd", "remote_tokens", "local_tokens", "calls", "wall_s"]
LIMIT_NAMES: tuple[LimitName, ...] = ("usd", "remote_tokens", "local_tokens", "calls", "wall_s")
"""Every limit a budget can set, in the order the meter checks them."""

PolicyName = Literal["raise", "degrade", "interrupt"]
_POLICY_NAMES = ("raise", "degrade", "interrupt")


class LimitScope(NamedTuple):
    """Where a limit applies: the whole run, one graph node, or one role."""

    kind: Literal["run", "node", "role"]
    name: str | None = None

    def __str__(self) -> str:
        return "run" if self.kind == "run" else f"{self.kind} {self.name!r}"


RUN_SCOPE = LimitScope("run")


@dataclass(frozen=True, kw_only=True)
class Budget:
    """What a run may spend; every limit left at ``None`` is unlimited.

    The run's limits cover every metered call made inside ``collab.Run``; ``per_node`` and
    ``per_role`` add limits for the calls made in one graph node or by one role, checked
    together with the run's (a call goes ahead only when it fits all of them).
    """

    usd: float | None = None
    """US dollars the remote models may cost. Local models never count here (see
    ``collab.budget.local_costs`` for what they are recorded as costing)."""
    remote_tokens: int | None = None
    """Prompt plus completion tokens sent to and received from remote models."""
    local_tokens: int | None = None
    """Prompt plus completion tokens processed by local (and scripted) models."""
    calls: int | None = None
    """Model calls made, local and remote, failed ones included."""
    wall_s: float | None = None
    """Seconds: for the run, elapsed since it started; for a node or role, the wall time of
    the model calls made in it. Checked before each call: a call already under way is never
    cut short."""
    per_node: Mapping[str, Budget] = field(default_factory=dict)
    """Limits for the calls made inside one graph node, keyed by node name."""
    per_role: Mapping[str, Budget] = field(default_factory=dict)
    """Limits for the calls made by one role (drafter, verifier, ...), keyed by role name."""
    policy: BudgetPolicy | PolicyName = "raise"
    """What happens when a call does not fit: "raise" ``BudgetExceeded``, "degrade" to the
    local model, "interrupt" for a human (inside a LangGraph node), or any ``BudgetPolicy``.
    The run's policy decides for its node and role limits too."""

    def __post_init__(self) -> None:
        for name in LIMIT_NAMES:
            _check_limit(name, getattr(self, name))
        for kind in ("per_node", "per_role"):
            scoped = getattr(self, kind)
            if not isinstance(scoped, Mapping):
                raise UserError(
                    f"Budget.{kind} must be a mapping of name -> Budget, got {scoped!r}",
                    hint=f"e.g. Budget({kind}={{'draft': Budget(usd=0.01)}})",
                )
            for name, inner in scoped.items():
                if not isinstance(inner, Budget):
                    raise UserError(
                        f"Budget.{kind}[{name!r}] must be a Budget, got {inner!r}",
                        hint=f"e.g. Budget({kind}={{{name!r}: Budget(usd=0.01)}})",
                    )
                if inner.per_node or inner.per_role:
                    raise UserError(
                        f"Budget.{kind}[{name!r}] has its own per_node/per_role limits",
                        hint="scoped limits are one level deep: set them on the run's Budget",
                    )
            # A private copy: the caller's dict changing later must not move the limits.
            object.__setattr__(self, kind, dict(scoped))
        if isinstance(self.policy, str):
            if self.policy not in _POLICY_NAMES:
                raise UserError(
                    f"unknown budget policy {self.policy!r}",
                    hint=f"use one of {', '.join(map(repr, _POLICY_NAMES))} or a BudgetPolicy",
                )
        elif not callable(self.policy):
            raise UserError(
                f"Budget.policy must be a policy name or a callable, got {self.policy!r}",
                hint="a policy is called with the Exceeded situation and returns a Decision",
            )

    def with_limits(self, **changes: float | None) -> Budget:
        """A copy with these limits changed (``None`` lifts one); scoped limits and policy kept."""
        unknown = sorted(set(changes) - set(LIMIT_NAMES))
        if unknown:
            raise UserError(
                f"Budget has no limit named {', '.join(map(repr, unknown))}",
                hint=f"the limits are {', '.join(LIMIT_NAMES)}",
            )
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def limits(self) -> dict[LimitName, float | None]:
        """The limits by name (``None`` = unlimited)."""
        return {name: getattr(self, name) for name in LIMIT_NAMES}


def _check_limit(name: str, value: Any) -> None:
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise UserError(
            f"Budget.{name} must be a finite number >= 0 or None, got {value!r}",
            hint="None means unlimited; usd is US dollars, wall_s seconds",
        )
