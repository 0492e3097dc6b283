"""How long a draft to verify: measured decode costs against the running acceptance rate.

A target decode of ``n`` tokens on a CPU costs less than ``n`` one-token decodes but more than
one, by how much depends on the weight format's kernels: on 2 cores, SmolLM2-135M Q4_1 takes
~1.7x a one-token decode for 2 tokens and ~7.5x for 16, Q4_0 ~1.6x and ~5.7x. The decoder
times the sizes it may use once per model (``invariance.probe_batches``) and keeps measuring.
A draft of ``k`` tokens whose tokens are each accepted with probability ``a`` (while the
previous ones were) yields ``(1 - a^(k+1)) / (1 - a)`` tokens on average, the last being the
target's own correction or bonus token. Each step takes the ``k`` with the most tokens per
second, or no draft at all when plain decoding is faster: speculation then costs nothing.

Acceptance is tracked per kind of draft (a 2-token prompt-lookup match is a guess, a 16-token
one a copy): accepted tokens against rejections, with old evidence fading, starting from a
prior per kind. A kind that stops paying is left alone, and drifts back toward its prior
while offered but unused, so it is tried again later. (Drawing the rate from its posterior
instead, Thompson sampling, explores more; with a long wrong draft costing ~8 one-token
decodes that loses more than it finds, in simulations on recorded SmolLM2 outputs.)
"""

from __future__ import annotations

import itertools
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Acceptance", "CostModel", "Schedule", "best_length"]

PRIOR_SLOPE = 0.55
"""Extra cost of each token in a batch, relative to a one-token decode, until measured."""
_WINDOW = 15
"""Recent measurements kept per batch size (their median is the estimate)."""


@dataclass
class CostModel:
    """Seconds per target decode of ``n`` tokens (logits for all), measured as steps run.

    One-token decodes are frequent, so their recent median tracks how fast the machine is
    right now; a batch of ``n`` is kept as its cost relative to that median when it ran. A
    machine slowed or sped up by other work then moves every estimate together, and a batch
    size timed during a busy moment does not look dear once the moment has passed.
    """

    _singles: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _ratios: dict[int, deque[float]] = field(default_factory=dict)
    """Per batch size above 1: its seconds over the one-token median at the time."""

    def observe(self, n: int, seconds: float) -> None:
        if n <= 1:
            self._singles.append(seconds)
            return
        single = self.single
        if single is None:  # nothing to compare with yet: read it as the prior would
            single = seconds / _prior_ratio(n)
            self._singles.append(single)
        ratios = self._ratios.get(n)
        if ratios is None:
            ratios = self._ratios[n] = deque(maxlen=_WINDOW)
        ratios.append(seconds / single)

    @property
    def single(self) -> float | None:
        """The recent median cost of a one-token decode, once anything is measured."""
        return statistics.median(self._singles) if self._singles else None

    def seconds(self, n: int) -> float:
        """The estimated cost of a decode of ``n`` tokens (in units of 1.0 per one-token
        decode before anything is measured)."""
        single = self.single
        return (1.0 if single is None else single) * self.ratio(n)

    def ratio(self, n: int) -> float:
        """The cost of a decode of ``n`` tokens over a one-token decode: measured, else
        interpolated between the nearest measured sizes (extrapolated along the last two),
        else the prior slope."""
        measured = [(1, 1.0)]
        measured += sorted((size, statistics.median(r)) for size, r in self._ratios.items())
        if len(measured) < 2:
            return _prior_ratio(n)
        for (lo, lo_r), (hi, hi_r) in itertools.pairwise(measured):
            if lo <= n <= hi:
                return lo_r + (hi_r - lo_r) * (n - lo) / (hi - lo)
        (lo, lo_r), (hi, hi_r) = measured[-2:]
        slope = max((hi_r - lo_r) / (hi - lo), 0.0)
        return hi_r + slope * (n - hi)


def _prior_ratio(n: int) -> float:
    return 1 + PRIOR_SLOPE * (n - 1)


@dataclass
class Acceptance:
    """The running per-token acceptance rate of one kind of draft."""

    prior: float = 0.7
    weight: float = 5.0
    """Pseudo-observations behind the prior."""
    decay: float = 0.9
    """Weight the past keeps at each verification of this kind."""
    drift: float = 0.02
    """Pull toward the prior at each step this kind was offered but not verified."""
    accepted: float = 0.0
    """Accepted tokens (faded)."""
    rejected: float = 0.0
    """Drafts cut short by a rejection (faded)."""

    def __post_init__(self) -> None:
        self.accepted = self.prior * self.weight
        self.rejected = (1 - self.prior) * self.weight

    @property
    def rate(self) -> float:
        return self.accepted / (self.accepted + self.rejected)

    def observe(self, drafted: int, accepted: int) -> None:
        self.accepted = self.decay * self.accepted + accepted
        self.rejected = self.decay * self.rejected + (accepted < drafted)

    def idle(self) -> None:
        self.accepted += self.drift * (self.prior * self.weight - self.accepted)
        self.rejected += self.drift * ((1 - self.prior) * self.weight - self.rejected)


PRIORS = {
    "lookup-48+": 0.9,
    "lookup-32+": 0.9,
    "lookup-16+": 0.9,
    "lookup-8+": 0.85,
    "lookup-4+": 0.7,
}
"""Prior acceptance per kind of draft; other kinds start at ``Schedule.prior``."""


@dataclass
class Schedule:
    """Chooses draft lengths for one generation."""

    max_draft: int
    """Longest draft ever verified (the verification batch is one more)."""
    adaptive: bool = True
    """False: always verify the longest draft on offer (to measure a source)."""
    prior: float = 0.5
    costs: CostModel = field(default_factory=CostModel)
    draft_seconds: float = 0.0
    """Seconds to draft one token (0 for prompt lookup; measured for draft models)."""
    _acceptance: dict[str, Acceptance] = field(default_factory=dict)

    def acceptance(self, kind: str) -> Acceptance:
        found = self._acceptance.get(kind)
        if found is None:
            found = self._acceptance[kind] = Acceptance(prior=PRIORS.get(kind, self.prior))
        return found

    def length(self, kind: str, available: int) -> int:
        """How many of ``available`` draft tokens of this kind to verify (0: decode plainly)."""
        limit = min(available, self.max_draft)
        if limit <= 0:
            return 0
        if not self.adaptive:
            return limit
        acceptance = self.acceptance(kind)
        best = best_length(acceptance.rate, limit, self.costs.seconds, self.draft_seconds)
        if best == 0:
            acceptance.idle()
        return best

    def observe(self, kind: str, drafted: int, accepted: int) -> None:
        if drafted:
            self.acceptance(kind).observe(drafted, accepted)


def best_length(
    rate: float, limit: int, seconds: Callable[[int], float], draft_seconds: float
) -> int:
    """The draft length up to ``limit`` with the most expected tokens per second at
    acceptance ``rate``, given decode costs ``seconds(n)``; 0 when none beats plain decoding."""
    plain = seconds(1)
    best, best_gain = 0, 1.0
    expected = 1.0
    for k in range(1, limit + 1):
        expected += rate**k
        gain = expected * plain / (seconds(k + 1) + k * draft_seconds)
        if gain > best_gain:
            best, best_gain = k, gain
    return best
