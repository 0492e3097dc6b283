"""The ledger: one ``CallRecord`` per model call, summaries, and the all-remote counterfactual.

A ``Ledger`` is a pydantic model, so it pickles, round-trips through JSON, and can ride in
LangGraph state next to a pattern's result.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from collab.budget.prices import PriceFn, estimate_cost_usd
from collab.types import SpeculationStats

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["CallRecord", "Ledger", "Outcome", "Saving", "Summary"]

Outcome = Literal["ok", "error", "degraded", "refused"]
"""ok: answered; error: failed (billed usage, if any, recorded); degraded: answered by the
local model instead of ``original_model``; refused: not made, the budget did not allow it."""

GroupBy = Literal["node", "role", "model", "kind", "outcome"]

# One lock for every ledger: appends are rare and short, and a lock kept on the instance
# would stop ledgers from being pickled or deep-copied (LangGraph does both to state).
_APPEND_LOCK = threading.Lock()


class CallRecord(BaseModel):
    """One model call as the meter saw it; also the event tracing receives when a call ends."""

    model_config = ConfigDict(frozen=True)
    event: ClassVar[str] = "call"

    run_id: str | None = None
    call_id: str | None = None
    """Names the call in its ``CallStarted`` and ``StreamDelta`` events too; unique in the
    run's ledger, resumed attempts included (``None`` in records made before call ids)."""
    node: str | None = None
    """The graph node the call was made in (``collab.budget.run.scope``), if any."""
    role: str | None = None
    model: str
    """The model that answered (or was refused)."""
    original_model: str | None = None
    """The model the caller asked for, when a policy routed the call elsewhere."""
    kind: Literal["local", "remote"]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    """US dollars; ``None`` when the price is unknown. Local calls: the run's local cost model."""
    latency_s: float = 0.0
    cpu_s: float = 0.0
    """Process CPU seconds during a local call (0 for remote calls)."""
    retries: int = 0
    cache_hit: bool = False
    usage_estimated: bool = False
    """The token counts are collab's estimate: the provider reported no usage."""
    outcome: Outcome = "ok"
    error: str | None = None
    """For outcome "error" or "refused": the exception type and message."""
    timestamp: float = 0.0
    """When the call ended, Unix time in seconds."""
    speculation: SpeculationStats | None = None
    """What speculative decoding did in this call (a ``LocalModel(speculative=...)``)."""
    redactions: dict[str, int] | None = None
    """What a privacy guard replaced in the call's prompt, by type and count (never values)."""

    @property
    def made(self) -> bool:
        """Whether the call reached a model (everything but "refused")."""
        return self.outcome != "refused"


@dataclass(frozen=True)
class Summary:
    """Totals over a group of records."""

    calls: int = 0
    """Calls made (refused ones are counted in ``refused`` only)."""
    errors: int = 0
    degraded: int = 0
    refused: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    """Sum of the known costs; ``unpriced`` counts the calls left out."""
    unpriced: int = 0
    estimated: int = 0
    """Calls whose token counts are collab's estimate (the provider reported no usage)."""
    latency_s: float = 0.0
    cpu_s: float = 0.0

    def add(self, r: CallRecord) -> Summary:
        return Summary(
            calls=self.calls + r.made,
            errors=self.errors + (r.outcome == "error"),
            degraded=self.degraded + (r.outcome == "degraded"),
            refused=self.refused + (not r.made),
            prompt_tokens=self.prompt_tokens + r.prompt_tokens,
            completion_tokens=self.completion_tokens + r.completion_tokens,
            cost_usd=self.cost_usd + (r.cost_usd or 0.0),
            unpriced=self.unpriced + (r.cost_usd is None and r.made),
            estimated=self.estimated + r.usage_estimated,
            latency_s=self.latency_s + r.latency_s,
            cpu_s=self.cpu_s + r.cpu_s,
        )


@dataclass(frozen=True)
class Saving:
    """What the run cost against what the same calls would have cost on one remote model."""

    remote_model: str
    actual_usd: float
    """Sum of the known costs of the run's calls."""
    all_remote_usd: float | None
    """The same token counts priced at ``remote_model``; ``None`` when it has no price. Token
    counts come from each call's own tokenizer, so this is an estimate."""
    unpriced: int = 0
    """Calls whose actual cost is unknown (left out of ``actual_usd``)."""

    @property
    def saved_usd(self) -> float | None:
        return None if self.all_remote_usd is None else self.all_remote_usd - self.actual_usd

    @property
    def saved_pct(self) -> float | None:
        """Saving as a percentage of the all-remote cost (``None`` when that is 0 or unknown)."""
        if not self.all_remote_usd:
            return None
        return 100.0 * (self.all_remote_usd - self.actual_usd) / self.all_remote_usd


class Ledger(BaseModel):
    """Every call of a run, in the order they ended; appends are thread-safe."""

    run_id: str | None = None
    records: list[CallRecord] = Field(default_factory=list)

    def append(self, record: CallRecord) -> None:
        with _APPEND_LOCK:
            self.records.append(record)

    def snapshot(self) -> list[CallRecord]:
        """A copy of the records, safe to read while calls are still being appended."""
        with _APPEND_LOCK:
            return list(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def summary(self, by: GroupBy) -> dict[str | None, Summary]:
        """Totals per node, role, model, kind or outcome, in order of first appearance."""
        groups: dict[str | None, Summary] = {}
        for r in self.snapshot():
            key = getattr(r, by)
            groups[key] = groups.get(key, Summary()).add(r)
        return groups

    def by_node(self) -> dict[str | None, Summary]:
        return self.summary("node")

    def by_model(self) -> dict[str | None, Summary]:
        return self.summary("model")

    def by_role(self) -> dict[str | None, Summary]:
        return self.summary("role")

    def total(self) -> Summary:
        total = Summary()
        for r in self.snapshot():
            total = total.add(r)
        return total

    def all_remote_cost_usd(
        self, remote_model: str, *, price: PriceFn = estimate_cost_usd
    ) -> float | None:
        """What every call made would have cost on ``remote_model`` (``None``: no price)."""
        total = 0.0
        for r in self.snapshot():
            if not r.made:
                continue
            cost = price(remote_model, r.prompt_tokens, r.completion_tokens)
            if cost is None:
                return None
            total += cost
        return total

    def saving(self, remote_model: str, *, price: PriceFn = estimate_cost_usd) -> Saving:
        """The run's cost against the all-remote counterfactual, absolute and in %."""
        total = self.total()
        return Saving(
            remote_model=remote_model,
            actual_usd=total.cost_usd,
            all_remote_usd=self.all_remote_cost_usd(remote_model, price=price),
            unpriced=total.unpriced,
        )

    def to_json(self) -> str:
        with _APPEND_LOCK:
            return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Ledger:
        return cls.model_validate_json(text)

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat JSON-able dict per record (for CSV, DataFrames, JSONL traces)."""
        return [r.model_dump(mode="json") for r in self.snapshot()]

    def rich_table(self, by: GroupBy = "model", *, title: str | None = None) -> Table:
        """A rich ``Table`` of ``summary(by)`` with a total row (rich is imported here)."""
        from rich.table import Table

        table = Table(title=title or f"calls by {by}")
        from collab.budget.prices import format_usd

        for column in (by, "calls", "tokens in", "tokens out", "cost $", "latency s", "notes"):
            table.add_column(column, justify="left" if column in {by, "notes"} else "right")
        rows = [*self.summary(by).items(), ("total", self.total())]
        for i, (key, s) in enumerate(rows):
            notes = [
                f"{n} {label}"
                for n, label in (
                    (s.errors, "errors"),
                    (s.degraded, "degraded"),
                    (s.refused, "refused"),
                    (s.unpriced, "unpriced"),
                    (s.estimated, "estimated"),
                )
                if n
            ]
            table.add_row(
                "-" if key is None else str(key),
                str(s.calls),
                str(s.prompt_tokens),
                str(s.completion_tokens),
                format_usd(s.cost_usd, sign=False),
                f"{s.latency_s:.2f}",
                ", ".join(notes),
                end_section=i == len(rows) - 2,
            )
        return table
