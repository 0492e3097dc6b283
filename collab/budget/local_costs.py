"""What a local model call is recorded as costing: nothing by default, or CPU time or energy.

Local costs go into the ledger only; budgets' ``usd`` limit is for remote models. Tokens and
CPU seconds of local calls are recorded whatever the cost model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from collab.errors import UserError

__all__ = ["CpuSecondsCost", "EnergyCost", "FreeLocal", "LocalCostModel"]


@runtime_checkable
class LocalCostModel(Protocol):
    """Prices one local call from what was measured."""

    def cost_usd(
        self, *, prompt_tokens: int, completion_tokens: int, cpu_s: float, wall_s: float
    ) -> float:
        """US dollars for a call that took ``cpu_s`` CPU seconds and ``wall_s`` wall seconds."""
        ...


@dataclass(frozen=True)
class FreeLocal:
    """Local calls cost $0 (the machine is already paid for)."""

    def cost_usd(
        self, *, prompt_tokens: int, completion_tokens: int, cpu_s: float, wall_s: float
    ) -> float:
        return 0.0


@dataclass(frozen=True, kw_only=True)
class CpuSecondsCost:
    """Local calls cost their CPU time at a cloud-like hourly rate."""

    usd_per_cpu_hour: float
    """US dollars per CPU-hour, e.g. 0.04 for one vCPU of a general-purpose cloud VM."""

    def __post_init__(self) -> None:
        _check_rate("CpuSecondsCost.usd_per_cpu_hour", self.usd_per_cpu_hour)

    def cost_usd(
        self, *, prompt_tokens: int, completion_tokens: int, cpu_s: float, wall_s: float
    ) -> float:
        return cpu_s / 3600.0 * self.usd_per_cpu_hour


@dataclass(frozen=True, kw_only=True)
class EnergyCost:
    """Local calls cost the electricity the machine draws for their wall time."""

    watts: float
    """Average power the machine draws while a local model runs, in watts."""
    usd_per_kwh: float
    """Electricity price, in US dollars per kilowatt-hour."""

    def __post_init__(self) -> None:
        _check_rate("EnergyCost.watts", self.watts)
        _check_rate("EnergyCost.usd_per_kwh", self.usd_per_kwh)

    def cost_usd(
        self, *, prompt_tokens: int, completion_tokens: int, cpu_s: float, wall_s: float
    ) -> float:
        return self.watts * wall_s / 3_600_000.0 * self.usd_per_kwh


def _check_rate(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise UserError(f"{name} must be a finite number >= 0, got {value!r}")
