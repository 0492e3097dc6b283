"""Budget policies: what happens when a call does not fit what is left of a budget.

A policy is any callable ``(Exceeded) -> Decision``: a small class or a plain function. It
may raise (``exceeded.error()`` is the ready-made ``BudgetExceeded``), or decide to
``Proceed`` anyway, to ``UseModel`` another model, or to ``RaiseLimits`` and try again.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from collab.budget.limits import LIMIT_NAMES, LimitName, LimitScope
from collab.budget.prices import format_usd
from collab.errors import BudgetExceeded, UserError

if TYPE_CHECKING:
    from collab.budget.limits import PolicyName
    from collab.models.base import Model

__all__ = [
    "BudgetPolicy",
    "Decision",
    "Degrade",
    "Exceeded",
    "Interrupt",
    "Proceed",
    "Raise",
    "RaiseLimits",
    "UseModel",
    "resolve_policy",
]

_LABELS: dict[str, str] = {
    "usd": "remote USD",
    "remote_tokens": "remote token",
    "local_tokens": "local token",
    "calls": "model-call",
    "wall_s": "wall-time",
}
_CHECKPOINTER_KEY = "__pregel_checkpointer"
"""Where LangGraph keeps a graph's checkpointer in a node's config (``CONFIG_KEY_CHECKPOINTER``)."""
RAISE_HINT = (
    "raise the limit (budget.with_limits(...)), lower max_tokens, "
    "or use policy='degrade' to fall back to a local model"
)


@dataclass(frozen=True, kw_only=True)
class Exceeded:
    """The situation a policy decides on: one limit of one scope that a call does not fit."""

    limit_name: LimitName
    scope: LimitScope
    limit: float
    spent: float
    """Settled so far in this scope (for ``wall_s``: seconds elapsed or spent in calls)."""
    reserved: float
    """Held by calls in flight in this scope."""
    needed: float
    """What this call needs at worst (prompt tokens + max_tokens, priced)."""
    model: Model
    """The model the call was about to use."""
    node: str | None = None
    role: str | None = None
    local_model: Model | None = None
    """The run's local model, where ``Degrade`` routes by default."""

    @property
    def message(self) -> str:
        where = f"{_LABELS[self.limit_name]} budget of {self.scope} exhausted"
        if self.limit_name == "wall_s":
            how = "elapsed" if self.scope.kind == "run" else "spent in model calls"
            return f"{where}: {self.spent:.2f} s {how} (limit {self.limit:.2f} s)"
        if self.limit_name == "usd":
            amounts = (format_usd(self.spent), format_usd(self.reserved), format_usd(self.needed))
            unit, limit = "", format_usd(self.limit)
        else:
            amounts = (f"{self.spent:.0f}", f"{self.reserved:.0f}", f"{self.needed:.0f}")
            unit, limit = (
                " " + self.limit_name.removeprefix("local_").removeprefix("remote_"),
                (f"{self.limit:.0f}"),
            )
        return (
            f"{where}: spent {amounts[0]} + reserved {amounts[1]}{unit}, "
            f"this call to {self.model.name!r} needs up to {amounts[2]} (limit {limit})"
        )

    def error(self, hint: str = RAISE_HINT) -> BudgetExceeded:
        """The ``BudgetExceeded`` for this situation, with its numbers as attributes."""
        error = BudgetExceeded(self.message, hint=hint)
        # Structured fields for callers; errors.BudgetExceeded takes only message and hint.
        error.limit_name = self.limit_name  # type: ignore[attr-defined]
        error.scope = str(self.scope)  # type: ignore[attr-defined]
        error.limit = self.limit  # type: ignore[attr-defined]
        error.spent = self.spent  # type: ignore[attr-defined]
        error.reserved = self.reserved  # type: ignore[attr-defined]
        error.needed = self.needed  # type: ignore[attr-defined]
        error.model = self.model.name  # type: ignore[attr-defined]
        return error

    def payload(self) -> dict[str, Any]:
        """A JSON-able description (what ``Interrupt`` shows the human)."""
        return {
            "type": "budget_exceeded",
            "message": self.message,
            "limit_name": self.limit_name,
            "scope": str(self.scope),
            "limit": self.limit,
            "spent": self.spent,
            "reserved": self.reserved,
            "needed": self.needed,
            "model": self.model.name,
            "node": self.node,
            "role": self.role,
            "resume": (
                f'Command(resume={{"{self.limit_name}": <new limit>}}) raises the limit of '
                f'{self.scope}; {{"approve": True}} lets this call through once; '
                '{"approve": False} refuses it'
            ),
        }


@dataclass(frozen=True)
class Proceed:
    """Make the call anyway, over the limit."""


@dataclass(frozen=True)
class UseModel:
    """Make the call with ``model`` instead (recorded as "degraded", naming the original)."""

    model: Model


@dataclass(frozen=True)
class RaiseLimits:
    """Set these limits (``None`` lifts one) on ``scope`` and try the reservation again."""

    limits: Mapping[str, float | None]
    scope: LimitScope | None = field(default=None)
    """The scope to change; ``None``: the one that was exceeded."""


Decision = Proceed | UseModel | RaiseLimits


class BudgetPolicy(Protocol):
    """Decides what to do with a call that does not fit; may raise instead of deciding."""

    def __call__(self, exceeded: Exceeded, /) -> Decision: ...


@dataclass(frozen=True)
class Raise:
    """Raise ``BudgetExceeded`` before the call that would cross the limit."""

    def __call__(self, exceeded: Exceeded, /) -> Decision:
        raise exceeded.error()


@dataclass(frozen=True)
class Degrade:
    """Route a remote call that does not fit to a local model (``to``, else the run's).

    A local call that does not fit (local tokens, calls, wall time) is refused as by ``Raise``.
    """

    to: Model | None = None

    def __call__(self, exceeded: Exceeded, /) -> Decision:
        if exceeded.model.kind != "remote":
            raise exceeded.error(hint=f"{exceeded.model.name!r} is already local: {RAISE_HINT}")
        target = self.to or exceeded.local_model
        if target is None:
            raise exceeded.error(
                hint="policy 'degrade' has no local model to use: pass Degrade(to=local_model) "
                "or collab.Run(local_model=...)"
            )
        return UseModel(target)


@dataclass(frozen=True)
class Interrupt:
    """Ask a human, inside a LangGraph node, with ``langgraph.types.interrupt``.

    The graph stops with the ``Exceeded.payload()`` as interrupt value; resuming with
    ``Command(resume={"usd": 0.05})`` (any limit names) sets new limits on the exceeded scope,
    ``{"approve": True}`` lets the call through once, ``{"approve": False}`` refuses it. The
    node re-runs on resume, so calls it made before this one are made (and recorded) again.
    Outside a graph (or without a checkpointer) it raises ``BudgetExceeded``, as ``Raise``.
    """

    def __call__(self, exceeded: Exceeded, /) -> Decision:
        answer = self._ask(exceeded)
        if isinstance(answer, bool):
            answer = {"approve": answer}
        if not isinstance(answer, Mapping):
            raise UserError(
                f"a budget interrupt was resumed with {answer!r}",
                hint='resume with Command(resume={"usd": 0.05}) or {"approve": True}',
            )
        limits = {k: v for k, v in answer.items() if k != "approve"}
        unknown = sorted(set(limits) - set(LIMIT_NAMES))
        if unknown:
            raise UserError(
                f"a budget interrupt was resumed with unknown limits {unknown}",
                hint=f"the limits are {', '.join(LIMIT_NAMES)}, plus 'approve': True/False",
            )
        if not answer.get("approve", True):
            raise exceeded.error(hint="the call was refused when the run was resumed")
        return RaiseLimits(limits) if limits else Proceed()

    @staticmethod
    def _ask(exceeded: Exceeded) -> Any:
        fallback = exceeded.error(
            hint="policy 'interrupt' asks a human only inside a LangGraph node of a graph "
            f"compiled with a checkpointer; here it raises. {RAISE_HINT}"
        )
        if "langgraph" not in sys.modules:  # no graph ever ran in this process
            raise fallback
        from langgraph.config import get_config
        from langgraph.types import interrupt

        try:
            configurable = get_config().get("configurable") or {}
        except RuntimeError as error:  # "Called get_config outside of a runnable context"
            raise fallback from error
        if configurable.get(_CHECKPOINTER_KEY) is None:  # an interrupt could never be resumed
            raise fallback
        try:
            return interrupt(exceeded.payload())
        except RuntimeError as error:  # "Called get_config outside of a runnable context"
            raise fallback from error
        except KeyError as error:  # a runnable context that is not a graph node
            raise fallback from error


_BY_NAME: dict[str, BudgetPolicy] = {
    "raise": Raise(),
    "degrade": Degrade(),
    "interrupt": Interrupt(),
}


def resolve_policy(policy: BudgetPolicy | PolicyName) -> BudgetPolicy:
    """The policy object for a name ("raise", "degrade", "interrupt") or a callable."""
    if isinstance(policy, str):
        return _BY_NAME[policy]
    return policy
