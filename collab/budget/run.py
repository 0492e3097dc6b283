"""``Run``: meters every call of a metered model (``collab.metered``, ``run.wrap``) made
inside ``with Run(...)``, in any thread or task.

The active run travels in a ``ContextVar``, which asyncio tasks, ``asyncio.to_thread`` and
LangGraph nodes inherit. Threads started with ``threading.Thread`` or a
``ThreadPoolExecutor`` start with an empty context, so calls there fall back to the
innermost run active in the process. The graph wrapper says which node and role a call is
made for with ``scope(node=..., role=...)``; records take them from ``current_scope()``.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from collab.budget.call_cost import Costing
from collab.budget.ledger import Ledger, Saving
from collab.budget.limits import Budget
from collab.budget.local_costs import FreeLocal, LocalCostModel
from collab.budget.meter import Meter
from collab.budget.prices import PriceFn, estimate_cost_usd
from collab.errors import UserError

if TYPE_CHECKING:
    from collab.budget.metered import MeteredModel
    from collab.events import Event
    from collab.models.base import Model

__all__ = ["CallScope", "Run", "active_run", "bind_run", "current_scope", "scope"]

_current_run: ContextVar[Run | None] = ContextVar("collab_run", default=None)
_node: ContextVar[str | None] = ContextVar("collab_node", default=None)
_role: ContextVar[str | None] = ContextVar("collab_role", default=None)
_bound_run: ContextVar[Run | None] = ContextVar("collab_bound_run", default=None)
_active: list[Run] = []
"""Every entered, not yet exited run, innermost last: the fallback for bare threads."""
_active_lock = threading.Lock()


class Run:
    """A metered run: a budget, a ledger of every call, and the models to fall back to.

    ``remote_model`` is the model the all-remote counterfactual is priced at (``saving()``);
    ``local_model`` is where policy "degrade" routes. ``price`` prices remote models that
    have no price of their own; ``ledger`` continues an earlier run (its calls count as
    spent). Runs nest: the innermost one meters a call (the outer one does not see it).

    One run may meter several invocations at once (``cascade.run(..., run=run)`` from many
    threads or tasks): each holds it with ``share()`` while it runs, and the run stays active
    until the last of them and the caller's own ``with run:`` (if any) have ended.
    """

    def __init__(
        self,
        *,
        budget: Budget | None = None,
        local_model: Model | None = None,
        remote_model: Model | str | None = None,
        run_id: str | None = None,
        local_cost: LocalCostModel = FreeLocal(),  # noqa: B008  (frozen)
        price: PriceFn = estimate_cost_usd,
        ledger: Ledger | None = None,
    ) -> None:
        if ledger is not None and run_id is None:
            run_id = ledger.run_id
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.local_model = local_model
        self.remote_model = remote_model
        self.meter = Meter(
            budget,
            ledger=ledger if ledger is not None else Ledger(run_id=self.run_id),
            run_id=self.run_id,
            local_model=local_model,
            costing=Costing(price=price, local=local_cost),
        )
        self._token: Token[Run | None] | None = None
        self._entered = False
        self._shares = 0
        """Invocations holding the run now (``share()``): it stays active until the last ends."""

    def __repr__(self) -> str:
        return f"Run(run_id={self.run_id!r}, calls={len(self.ledger)}, active={self.active})"

    @property
    def ledger(self) -> Ledger:
        return self.meter.ledger

    @property
    def budget(self) -> Budget:
        """The limits in force now (raised ones included)."""
        return self.meter.budget

    @property
    def active(self) -> bool:
        """Whether the run meters calls now: entered with ``with``, or held by ``share()``."""
        return self._token is not None or self._shares > 0

    def wrap(self, model: Model) -> MeteredModel:
        """``model`` metered by this run, whether or not it is entered (``collab.metered``
        wraps for whichever run is active at each call)."""
        from collab.budget.metered import MeteredModel

        return MeteredModel(model, run=self)

    def on_event(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event of the run; returns the function that unsubscribes.

        The events are those of ``collab.events``: ``CallStarted``, ``StreamDelta`` (only
        while someone listens), ``CallRecord`` when a call ends (refused ones included),
        ``NodeStarted`` and ``NodeEnded``, ``ToolRan`` (a tool's run, from patterns that run
        tools); a call's events share its ``call_id``. Callbacks
        run in the thread that made the call; one that raises is only logged.
        """
        return self.meter.on_event(callback)

    def saving(self, remote_model: Model | str | None = None) -> Saving:
        """What the run cost against all its calls on ``remote_model`` (default: the run's)."""
        model = remote_model if remote_model is not None else self.remote_model
        if model is None:
            raise UserError(
                "the all-remote counterfactual needs a remote model to price the calls at",
                hint="pass Run(remote_model=...) or run.saving(remote_model='openai/gpt-4o-mini')",
            )
        costing = self.meter.costing
        if isinstance(model, str):
            return self.ledger.saving(model, price=costing.price)
        priced = model

        def price(_: str, prompt_tokens: int, completion_tokens: int) -> float | None:
            return costing.remote_usd(priced, prompt_tokens, completion_tokens)

        return self.ledger.saving(model.name, price=price)

    def __enter__(self) -> Run:
        if self._token is not None:
            raise UserError(
                f"run {self.run_id!r} is already active", hint="enter a Run once at a time"
            )
        self._token = _current_run.set(self)
        with _active_lock:
            self._activate()
        return self

    def _activate(self) -> None:
        """Start the clock on the first entry; list the run for bare threads. Under
        ``_active_lock``."""
        if not self._entered:  # a run re-entered later (e.g. to resume) keeps its clock
            self.meter.started = self.meter.clock()
            self._entered = True
        if self not in _active:
            _active.append(self)

    def _deactivate(self) -> None:
        """Unlist the run once nothing holds it any more. Under ``_active_lock``."""
        if self._token is None and self._shares == 0 and self in _active:
            _active.remove(self)

    @contextlib.contextmanager
    def share(self) -> Iterator[Run]:
        """Meter the calls made in this context with this run while the block runs; how a
        graph invocation uses a run that others (threads, tasks) may be using at the same time.

        Counted: the run stays active while any share or the caller's ``with run:`` lasts,
        so the first invocation to finish never ends it for those still in flight.
        """
        with _active_lock:
            self._shares += 1
            self._activate()
        token = _current_run.set(self)
        try:
            yield self
        finally:
            with contextlib.suppress(ValueError):  # ended in another context than begun
                _current_run.reset(token)
            with _active_lock:
                self._shares -= 1
                self._deactivate()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        with _active_lock:
            self._deactivate()
        if token is not None:
            # Exited in another context than entered: nothing to restore there.
            with contextlib.suppress(ValueError):
                _current_run.reset(token)

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def active_run() -> Run | None:
    """The run that meters a call made here: this context's, else the innermost active one."""
    run = _bound_run.get() or _current_run.get()
    if run is not None and (run.active or run is _bound_run.get()):
        return run
    if _active:
        try:
            return _active[-1]
        except IndexError:  # emptied by another thread since the check
            return None
    return None


class CallScope(NamedTuple):
    """The graph node and role a call is made for (``None``: not inside one)."""

    node: str | None
    role: str | None


def current_scope() -> CallScope:
    return CallScope(_node.get(), _role.get())


class scope:
    """Calls made inside are recorded for this node and/or role (``None`` keeps the outer one).

    A class, not a generator: it runs around every metered graph node.
    """

    __slots__ = ("_node", "_role", "_tokens")

    def __init__(self, *, node: str | None = None, role: str | None = None) -> None:
        self._node, self._role = node, role
        self._tokens: tuple[Token[str | None] | None, Token[str | None] | None] = (None, None)

    def __enter__(self) -> CallScope:
        self._tokens = (
            _node.set(self._node) if self._node is not None else None,
            _role.set(self._role) if self._role is not None else None,
        )
        return current_scope()

    def __exit__(self, *exc_info: object) -> None:
        node_token, role_token = self._tokens
        if role_token is not None:
            _role.reset(role_token)
        if node_token is not None:
            _node.reset(node_token)


class bind_run:
    """Meter the calls made in this context with ``run``, entered or not (how a graph node
    uses the run passed in its config)."""

    __slots__ = ("_run", "_token")

    def __init__(self, run: Run) -> None:
        self._run = run
        self._token: Token[Run | None] | None = None

    def __enter__(self) -> Run:
        self._token = _bound_run.set(self._run)
        return self._run

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _bound_run.reset(self._token)
