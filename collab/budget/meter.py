"""``Meter``: reserve the worst case before a call, settle the real usage after it.

Every call reserves, under one lock and all-or-nothing, its worst case (prompt tokens plus
``max_tokens``, priced) in every scope it belongs to: the run, and its node and role when
those have limits. Parallel calls therefore never overspend together; settling frees what
the call did not use and appends its ``CallRecord`` to the ledger.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.budget.call_cost import Costing
from collab.budget.ledger import CallRecord, Ledger, Outcome
from collab.budget.limits import LIMIT_NAMES, RUN_SCOPE, Budget, LimitScope
from collab.budget.policies import Exceeded, Proceed, RaiseLimits, UseModel, resolve_policy
from collab.errors import BudgetExceeded, UserError
from collab.events import CallStarted, Event, EventHub
from collab.redaction import redact
from collab.types import Completion

if TYPE_CHECKING:
    from collab.models.base import Model

__all__ = ["Meter", "Reservation", "collect_records"]

USD, REMOTE, LOCAL, CALLS, WALL = range(5)  # positions in amount vectors, as in LIMIT_NAMES
_MAX_DECISIONS = 8  # a policy that keeps deciding without the call ever fitting is refused
Amounts = tuple[float, float, float, float, float]

_collector: ContextVar[list[CallRecord] | None] = ContextVar("collab_records", default=None)


class collect_records:
    """Collects the records of the calls made in this context (a graph node's, say)."""

    __slots__ = ("_token", "records")

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._token: Token[list[CallRecord] | None] | None = None

    def __enter__(self) -> list[CallRecord]:
        self._token = _collector.set(self.records)
        return self.records

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _collector.reset(self._token)


def _collect(record: CallRecord) -> None:
    records = _collector.get()
    if records is not None:
        records.append(record)


class _Tally:
    """Limits, settled and reserved amounts of one scope."""

    __slots__ = ("budget", "reserved", "scope", "spent")

    def __init__(self, scope: LimitScope, budget: Budget) -> None:
        self.scope, self.budget = scope, budget
        self.spent = [0.0] * 5
        self.reserved = [0.0] * 5


@dataclass(slots=True)
class Reservation:
    """What one call holds until it is settled; ``model`` is the model to call."""

    call_id: str
    """The call's id in its events and ``CallRecord``."""
    model: Model
    original: Model | None
    """The model the caller asked for, when a policy chose ``model`` instead."""
    node: str | None
    role: str | None
    amounts: Amounts
    tallies: tuple[_Tally, ...]
    settled: bool = False


class Meter:
    """Holds a run's budget; every call ``reserve``s, then ``settle``s or ``fail``s."""

    def __init__(
        self,
        budget: Budget | None = None,
        *,
        ledger: Ledger | None = None,
        run_id: str | None = None,
        local_model: Model | None = None,
        costing: Costing = Costing(),  # noqa: B008  (frozen)
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ledger`` may hold the calls of an earlier attempt of the run: they count as spent."""
        self.ledger = ledger if ledger is not None else Ledger(run_id=run_id)
        self.run_id = run_id if run_id is not None else self.ledger.run_id
        self.local_model = local_model
        self.costing = costing
        self.events = EventHub()
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self._run = _Tally(RUN_SCOPE, budget or Budget())
        self._scoped: dict[LimitScope, _Tally] = {}
        """Tallies of the nodes and roles that have limits (only those are checked)."""
        self._next_call = 1
        """The number in the next call id; ids of earlier attempts are never given again."""
        for record in self.ledger.snapshot():
            _add(self._run.spent, _actual(record))
            self._skip_call_id(record.call_id)
        for kind, per in (("node", self._run.budget.per_node), ("role", self._run.budget.per_role)):
            for name, limits in per.items():
                self._scoped[LimitScope(kind, name)] = self._tally_from_ledger(
                    LimitScope(kind, name), limits
                )

    @property
    def budget(self) -> Budget:
        """The limits in force now, raised ones included."""
        with self._lock:
            per = {"node": dict(self._run.budget.per_node), "role": dict(self._run.budget.per_role)}
            for scope, tally in self._scoped.items():
                per[scope.kind][scope.name or ""] = tally.budget
            return dataclasses.replace(self._run.budget, per_node=per["node"], per_role=per["role"])

    def raise_limits(
        self, limits: Mapping[str, float | None], *, scope: LimitScope = RUN_SCOPE
    ) -> None:
        """Set new limits on one scope (``None`` lifts a limit); calls in flight keep theirs."""
        with self._lock:
            if scope == RUN_SCOPE:
                tally = self._run
            elif (tally := self._scoped.get(scope)) is None:
                tally = self._scoped[scope] = self._tally_from_ledger(scope, Budget())
            tally.budget = tally.budget.with_limits(**limits)

    def spent(self, *, node: str | None = None, role: str | None = None) -> dict[str, float]:
        """Settled amounts of the run, or of one node or role, by limit name."""
        with self._lock:
            tally = self._query(node, role)
            return dict(zip(LIMIT_NAMES, self._used(tally), strict=True))

    def reserved(self, *, node: str | None = None, role: str | None = None) -> dict[str, float]:
        """Amounts held by calls in flight, by limit name."""
        with self._lock:
            return dict(zip(LIMIT_NAMES, self._query(node, role).reserved, strict=True))

    def absorb(self, record: CallRecord) -> None:
        """Count a call made before (by an earlier attempt of the run) as spent, and add it
        to the ledger."""
        actual = _actual(record)
        with self._lock:
            _add(self._run.spent, actual)
            for scope, tally in self._scoped.items():
                if getattr(record, scope.kind) == scope.name:
                    _add(tally.spent, actual)
            self._skip_call_id(record.call_id)
            self.ledger.append(record)

    def on_event(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event of the run (all those of ``collab.events``:
        calls started and ended, stream deltas, graph nodes started and ended); returns the
        function that unsubscribes it."""
        return self.events.subscribe(callback)

    def reserve(
        self,
        model: Model,
        *,
        prompt_tokens: int | Callable[[Model], int],
        max_tokens: int,
        node: str | None = None,
        role: str | None = None,
    ) -> Reservation:
        """Hold the call's worst case in every scope, or let the budget's policy decide.

        ``prompt_tokens`` may be a function of the model, so that a model the policy chose is
        counted with its own tokenizer. Raises ``BudgetExceeded`` (recorded as "refused"), and
        ``UserError`` when a USD limit applies to a remote model with no price.
        """
        _check_reservable("max_tokens", max_tokens)
        original: Model | None = None
        for _ in range(_MAX_DECISIONS):
            tokens = prompt_tokens(model) if callable(prompt_tokens) else prompt_tokens
            _check_reservable("prompt tokens", tokens)
            tallies = self._tallies(node, role)
            amounts = self._needs(model, tokens, max_tokens, tallies)
            with self._lock:
                held = self._try_hold(model, original, node, role, amounts, tallies)
            if isinstance(held, Reservation):
                return self._started(held, tokens, max_tokens)
            exceeded = held
            policy = resolve_policy(self._run.budget.policy)
            try:
                decision = policy(exceeded)
            except BudgetExceeded as error:
                self._refuse(model, original, node, role, error)
                raise
            if isinstance(decision, Proceed):
                with self._lock:
                    reservation = self._hold(model, original, node, role, amounts, tallies)
                return self._started(reservation, tokens, max_tokens)
            if isinstance(decision, UseModel):
                original, model = original or model, decision.model
            elif isinstance(decision, RaiseLimits):
                self.raise_limits(decision.limits, scope=decision.scope or exceeded.scope)
            else:
                raise UserError(
                    f"budget policy {policy!r} returned {decision!r}",
                    hint="return Proceed(), UseModel(model) or RaiseLimits({...}), or raise",
                )
        error = exceeded.error(
            hint=f"the budget policy decided {_MAX_DECISIONS} times and the call still did not fit"
        )
        self._refuse(model, original, node, role, error)
        raise error

    def settle(
        self, reservation: Reservation, completion: Completion, *, latency_s: float, cpu_s: float
    ) -> CallRecord:
        """Record a call that answered, and free what it did not use of its reservation."""
        cost = self.costing.actual_usd(
            reservation.model, completion, latency_s=latency_s, cpu_s=cpu_s
        )
        outcome: Outcome = "degraded" if reservation.original is not None else "ok"
        record = self._record(reservation, completion, latency_s, cpu_s, cost, outcome)
        return self._settle(reservation, record)

    def fail(
        self,
        reservation: Reservation,
        error: BaseException,
        *,
        billed: Completion | None = None,
        billed_usd: float | None = None,
        latency_s: float = 0.0,
        cpu_s: float = 0.0,
    ) -> CallRecord:
        """Record a failed call with what the provider billed: ``billed`` usage or
        ``billed_usd`` (default: nothing); the rest of the reservation is freed. The record
        keeps the error's text, redacted (``collab.redaction``)."""
        cost = billed_usd
        if cost is None:
            cost = self.costing.actual_usd(
                reservation.model, billed, latency_s=latency_s, cpu_s=cpu_s
            )
        record = self._record(reservation, billed, latency_s, cpu_s, cost, "error")
        text = redact(f"{type(error).__name__}: {error}")  # any backend's error may hold a key
        record = record.model_copy(update={"error": text[:300]})
        return self._settle(reservation, record)

    def _tallies(self, node: str | None, role: str | None) -> tuple[_Tally, ...]:
        if not self._scoped:
            return (self._run,)  # the common case: no scoped limits
        scoped = (
            self._scoped.get(LimitScope("node", node)) if node is not None else None,
            self._scoped.get(LimitScope("role", role)) if role is not None else None,
        )
        return (self._run, *(t for t in scoped if t is not None))

    def _tally_from_ledger(self, scope: LimitScope, budget: Budget) -> _Tally:
        tally = _Tally(scope, budget)
        for record in self.ledger.snapshot():
            if getattr(record, scope.kind) == scope.name:
                _add(tally.spent, _actual(record))
        return tally

    def _query(self, node: str | None, role: str | None) -> _Tally:
        """The tally of the run, or of one node or role: kept when it has limits, else
        counted from the ledger (its calls in flight are then not known: reserved reads 0)."""
        if node is not None and role is not None:
            raise UserError("ask for one scope at a time: node= or role=, not both")
        if node is None and role is None:
            return self._run
        scope = LimitScope("node", node) if node is not None else LimitScope("role", role)
        return self._scoped.get(scope) or self._tally_from_ledger(scope, Budget())

    def _used(self, tally: _Tally) -> list[float]:
        used = list(tally.spent)
        if tally is self._run:  # a run's wall time is its age, not the sum of its calls
            used[WALL] = self.clock() - self.started
        return used

    def _needs(
        self, model: Model, tokens: int, max_tokens: int, tallies: tuple[_Tally, ...]
    ) -> Amounts:
        worst = float(tokens + max_tokens)
        if model.kind != "remote":
            return (0.0, 0.0, worst, 1.0, 0.0)
        usd = 0.0
        if any(t.budget.usd is not None for t in tallies):  # price only what is limited
            usd = self.costing.worst_case_usd(model, tokens, max_tokens)
        return (usd, worst, 0.0, 1.0, 0.0)

    def _try_hold(
        self,
        model: Model,
        original: Model | None,
        node: str | None,
        role: str | None,
        amounts: Amounts,
        tallies: tuple[_Tally, ...],
    ) -> Reservation | Exceeded:
        """Under the lock: hold ``amounts`` in every scope, or say which limit does not fit."""
        for tally in tallies:
            used = None
            for i, name in enumerate(LIMIT_NAMES):
                limit = getattr(tally.budget, name)
                if limit is None or (not amounts[i] and i != WALL):
                    continue
                used = used or self._used(tally)
                # The slack absorbs float sums: a call that exactly fits must pass.
                if used[i] + tally.reserved[i] + amounts[i] > limit + abs(limit) * 1e-9 + 1e-12:
                    return Exceeded(
                        limit_name=name,
                        scope=tally.scope,
                        limit=float(limit),
                        spent=used[i],
                        reserved=tally.reserved[i],
                        needed=amounts[i],
                        model=model,
                        node=node,
                        role=role,
                        local_model=self.local_model,
                    )
        return self._hold(model, original, node, role, amounts, tallies)

    def _hold(
        self,
        model: Model,
        original: Model | None,
        node: str | None,
        role: str | None,
        amounts: Amounts,
        tallies: tuple[_Tally, ...],
    ) -> Reservation:
        for tally in tallies:
            _add(tally.reserved, amounts)
        return Reservation(self._call_id(), model, original, node, role, amounts, tallies)

    def _call_id(self) -> str:
        """A fresh call id, ``<run_id>-<n>``; under the lock."""
        number, self._next_call = self._next_call, self._next_call + 1
        return f"{self.run_id}-{number}" if self.run_id is not None else str(number)

    def _skip_call_id(self, call_id: str | None) -> None:
        """Never give out ``call_id`` (a call of an earlier attempt of the run) again."""
        if call_id is None:
            return
        prefix = f"{self.run_id}-" if self.run_id is not None else ""
        number = call_id[len(prefix) :] if call_id.startswith(prefix) else ""
        if number.isascii() and number.isdigit():
            self._next_call = max(self._next_call, int(number) + 1)

    def _started(self, reservation: Reservation, tokens: int, max_tokens: int) -> Reservation:
        if self.events:
            model, original = reservation.model, reservation.original
            self.events.emit(
                CallStarted(
                    run_id=self.run_id,
                    call_id=reservation.call_id,
                    node=reservation.node,
                    role=reservation.role,
                    model=model.name,
                    original_model=original.name if original is not None else None,
                    kind="remote" if model.kind == "remote" else "local",
                    prompt_tokens=tokens,
                    max_tokens=max_tokens,
                    reserved_usd=reservation.amounts[USD],
                    timestamp=time.time(),
                )
            )
        return reservation

    def _record(
        self,
        reservation: Reservation,
        completion: Completion | None,
        latency_s: float,
        cpu_s: float,
        cost: float | None,
        outcome: Outcome,
    ) -> CallRecord:
        model, original = reservation.model, reservation.original
        usage = completion.usage if completion is not None else None
        return CallRecord(
            run_id=self.run_id,
            call_id=reservation.call_id,
            node=reservation.node,
            role=reservation.role,
            model=completion.model if completion is not None else model.name,
            original_model=original.name if original is not None else None,
            kind="remote" if model.kind == "remote" else "local",
            prompt_tokens=usage.prompt_tokens if usage is not None else 0,
            completion_tokens=usage.completion_tokens if usage is not None else 0,
            cost_usd=cost,
            latency_s=latency_s,
            cpu_s=cpu_s,
            retries=completion.retries if completion is not None else 0,
            cache_hit=completion.cache_hit if completion is not None else False,
            usage_estimated=usage.estimated if usage is not None else False,
            outcome=outcome,
            timestamp=time.time(),
            speculation=getattr(completion, "speculation", None),
            redactions=getattr(completion, "redactions", None),
        )

    def _settle(self, reservation: Reservation, record: CallRecord) -> CallRecord:
        actual = _actual(record)
        with self._lock:
            if reservation.settled:
                raise UserError("this reservation was already settled", hint="settle each once")
            reservation.settled = True
            for tally in reservation.tallies:
                _sub(tally.reserved, reservation.amounts)
                _add(tally.spent, actual)
            self.ledger.append(record)  # under the lock: new scoped tallies read the ledger
        _collect(record)
        if self.events:
            self.events.emit(record)
        return record

    def _refuse(
        self,
        model: Model,
        original: Model | None,
        node: str | None,
        role: str | None,
        error: BudgetExceeded,
    ) -> None:
        with self._lock:
            call_id = self._call_id()
        record = CallRecord(
            run_id=self.run_id,
            call_id=call_id,
            node=node,
            role=role,
            model=model.name,
            original_model=original.name if original is not None else None,
            kind="remote" if model.kind == "remote" else "local",
            outcome="refused",
            error=error.message,
            timestamp=time.time(),
        )
        self.ledger.append(record)
        _collect(record)
        if self.events:
            self.events.emit(record)


def _check_reservable(what: str, tokens: object) -> None:
    """A reservation holds a whole, non-negative number of tokens: a negative one would free
    room for other calls (``max_tokens`` 0 is a call with no output, as ``score`` makes)."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise UserError(
            f"cannot reserve {what}={tokens!r:.40}: a whole number >= 0 is needed",
            hint="pass max_tokens as a positive int; a model's count_prompt_tokens must "
            "return an int >= 0",
        )


def _actual(record: CallRecord) -> Amounts:
    """What a record counts against the limits."""
    if not record.made:
        return (0.0, 0.0, 0.0, 0.0, 0.0)
    tokens = float(record.prompt_tokens + record.completion_tokens)
    if record.kind == "remote":
        return (record.cost_usd or 0.0, tokens, 0.0, 1.0, record.latency_s)
    return (0.0, 0.0, tokens, 1.0, record.latency_s)


def _add(into: list[float], amounts: Amounts) -> None:
    for i, amount in enumerate(amounts):
        into[i] += amount


def _sub(into: list[float], amounts: Amounts) -> None:
    for i, amount in enumerate(amounts):
        into[i] = max(0.0, into[i] - amount)  # float sums may not come back to exactly 0
