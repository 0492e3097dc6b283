"""What the runner evaluates: systems, and the registry of how each pattern becomes one.

A system is either a ``TwoWaySystem`` (a pattern that decides per item between a cheap answer
and an expensive one by comparing a confidence with a threshold: each side is computed once
per item and every threshold follows offline) or a ``OneWaySystem`` (any ``input ->
Answered`` callable, evaluated as it is, next to baselines such as the LLM alone). A pattern
joins ``collab eval`` with one function ``EvalSetup -> System`` registered under its name, in
a module the caller loads (``load_systems``; the CLI loads ``patterns.eval_systems``)::

    @register("my_pattern", description="...")
    def my_pattern_system(setup: EvalSetup) -> System: ...

Evaluation never imports the patterns it evaluates: it receives them.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from collab.errors import UserError
from collab.evaluation.datasets import Dataset, Item

if TYPE_CHECKING:
    from collab.budget.ledger import Ledger
    from collab.evaluation.calibration import Escalation
    from collab.models.base import Model

__all__ = [
    "LLM_ONLY",
    "SLM_ONLY",
    "Answered",
    "EvalSetup",
    "OneWaySystem",
    "PatternEval",
    "System",
    "SystemFactory",
    "TwoWaySystem",
    "get_pattern_eval",
    "load_systems",
    "pattern_evals",
    "register",
]

LLM_ONLY = "llm-only"
SLM_ONLY = "slm-only"


class Answered(Protocol):
    """What a system returns for one input (a pattern's ``Answered`` is one)."""

    @property
    def answer(self) -> str: ...
    @property
    def escalated(self) -> bool: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def ledger(self) -> Ledger: ...


@dataclass(frozen=True, slots=True)
class EvalSetup:
    """What a pattern is evaluated with."""

    slm: Model
    llm: Model
    dataset: Dataset
    """Its ``instructions`` and ``max_tokens`` say how to ask the items."""
    judge: Callable[[str, str, str], float] | None = None
    """A program verifier (``collab.evaluation.verifiers``) to judge drafts with, instead of
    the SLM's own logits."""
    hint: bool = True
    """Whether an escalated question shows the LLM the SLM's draft."""


@dataclass(frozen=True, slots=True)
class TwoWaySystem:
    """A threshold decision between a cheap answer and an expensive one, evaluated offline.

    ``cheap(item)`` returns the cheap answer with ``details["confidence"]`` (the system keeps
    it when the confidence is at least the threshold); ``expensive(item, cheap_result)``
    returns what escalating would add: its ledger holds only the extra calls.

    A system that decides before anyone answers (a router) gives ``decide`` too: then the
    confidence comes from ``decide(item)``, whose ledger is what deciding costs (paid at
    every threshold), ``cheap(item)`` is the cheap answer alone, ``expensive(item,
    decided)`` is given ``decide``'s result, and escalating *replaces* the cheap answer
    instead of adding to it.
    """

    name: str
    cheap: Callable[[Item], Answered]
    expensive: Callable[[Item, Answered], Answered]
    cheap_label: str = SLM_ONLY
    expensive_label: str = LLM_ONLY
    decide: Callable[[Item], Answered] | None = None

    @property
    def escalation(self) -> Escalation:
        """How an escalated item pays: the expensive answer on top of the cheap one, or
        instead of it (a system that decides first)."""
        return "adds" if self.decide is None else "replaces"


@dataclass(frozen=True, slots=True)
class OneWaySystem:
    """Any system answering one input at a time; evaluated as it is, one row.

    ``baselines`` answer the same inputs another way (the LLM alone, the SLM alone): a row
    each, before the system's, so the table says what the system buys.
    """

    name: str
    answer: Callable[[str], Answered]
    baselines: Mapping[str, Callable[[str], Answered]] = field(default_factory=dict)


System = TwoWaySystem | OneWaySystem
SystemFactory = Callable[[EvalSetup], System]


@dataclass(frozen=True, slots=True)
class PatternEval:
    """How one pattern is evaluated: its name, one line about it, and its system factory."""

    name: str
    description: str
    factory: SystemFactory


_REGISTRY: dict[str, PatternEval] = {}


def register(name: str, *, description: str) -> Callable[[SystemFactory], SystemFactory]:
    """Register ``factory`` as how ``collab eval NAME`` evaluates a pattern (a decorator)."""

    def add(factory: SystemFactory) -> SystemFactory:
        _REGISTRY[name] = PatternEval(name, description, factory)
        return factory

    return add


def pattern_evals() -> list[PatternEval]:
    """Every registered pattern, by name."""
    return sorted(_REGISTRY.values(), key=lambda p: p.name)


def get_pattern_eval(name: str) -> PatternEval:
    """The pattern called ``name``; ``UserError`` listing the available ones otherwise."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=2)
    guess = f"did you mean {' or '.join(close)}? " if close else ""
    raise UserError(
        f"no evaluation for pattern {name!r}",
        hint=f"{guess}available: {', '.join(sorted(_REGISTRY))}",
    )


def load_systems(module: str) -> None:
    """Import ``module``, whose ``@register`` calls add the systems it defines."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UserError(
            f"cannot load evaluation systems from {module!r}: {exc}",
            hint="name an importable module that registers systems, "
            "e.g. collab.patterns.eval_systems",
        ) from exc
