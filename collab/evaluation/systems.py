"""What the runner evaluates: systems, and the registry of how each pattern becomes one.

A system is either a ``TwoWaySystem`` (a pattern that decides per item between a cheap answer
and an expensive one by comparing a confidence with a threshold: each side is computed once
per item and every threshold follows offline) or a ``OneWaySystem`` (any ``input ->
PatternResult`` callable, evaluated as it is). A pattern joins ``collab eval`` with one
function ``EvalSetup -> System`` registered under its name::

    @register("router", description="...")
    def router_system(setup: EvalSetup) -> System: ...
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.errors import UserError
from collab.evaluation.datasets import Dataset, Item

if TYPE_CHECKING:
    from collab.models.base import Model
    from patterns.common import PatternResult

__all__ = [
    "EvalSetup",
    "OneWaySystem",
    "PatternEval",
    "System",
    "SystemFactory",
    "TwoWaySystem",
    "cascade_system",
    "get_pattern_eval",
    "pattern_evals",
    "register",
]


@dataclass(frozen=True, slots=True)
class EvalSetup:
    """What a pattern is evaluated with."""

    slm: Model
    llm: Model
    dataset: Dataset
    """Its ``instructions`` and ``max_tokens`` say how to ask the items."""


@dataclass(frozen=True, slots=True)
class TwoWaySystem:
    """A threshold decision between a cheap answer and an expensive one, evaluated offline.

    ``cheap(item)`` returns the cheap answer with ``details["confidence"]`` (the system keeps
    it when the confidence is at least the threshold); ``expensive(item, cheap_result)``
    returns what escalating would add: its ledger holds only the extra calls.
    """

    name: str
    cheap: Callable[[Item], PatternResult]
    expensive: Callable[[Item, PatternResult], PatternResult]
    cheap_label: str = "slm-only"
    expensive_label: str = "llm-only"


@dataclass(frozen=True, slots=True)
class OneWaySystem:
    """Any system answering one input at a time; evaluated as it is, one row."""

    name: str
    answer: Callable[[str], PatternResult]


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


# -- cascade ---------------------------------------------------------------------------------

_REPLAY = "collab-eval-replay"
"""Name of the scripted model that replays a known draft (its calls are not counted)."""


@register(
    "cascade",
    description="the SLM drafts and judges its draft; below the threshold the LLM answers",
)
def cascade_system(setup: EvalSetup) -> TwoWaySystem:
    """The cascade (``patterns.cascade``), asked as the dataset says, with its default judge.

    The cheap side is the cascade at threshold 0 (draft and judge, never escalating); the
    expensive side replays that draft through the cascade at threshold 1, so the LLM is asked
    exactly what the cascade would send it (the draft as a hint, if the config says so).
    """
    from collab.ledger import Ledger
    from collab.models.scripted import ScriptedModel
    from patterns import cascade
    from patterns.cascade import CascadeConfig

    dataset = setup.dataset
    config = CascadeConfig(
        system=dataset.instructions,
        draft_max_tokens=dataset.max_tokens,
        answer_max_tokens=dataset.max_tokens,
    )
    never = config.model_copy(update={"threshold": 0.0})
    # One free run on scripted models loads LangGraph now, not in the first item's latency.
    warm = ScriptedModel(lambda _: ".", name=_REPLAY, kind="local")
    cascade.run("warm-up", slm=warm, llm=warm, config=never, judge=_always_escalate)

    def cheap(item: Item) -> PatternResult:
        return cascade.run(item.input, slm=setup.slm, llm=setup.llm, config=never)

    def expensive(item: Item, drafted: PatternResult) -> PatternResult:
        draft = str(drafted.details.get("draft", ""))
        replay = ScriptedModel([draft], name=_REPLAY, kind="local")
        # Room for the replayed draft: the scripted model counts words, not tokens.
        room = max(config.draft_max_tokens, len(draft.split()) + 1)
        always = config.model_copy(update={"threshold": 1.0, "draft_max_tokens": room})
        result = cascade.run(
            item.input, slm=replay, llm=setup.llm, config=always, judge=_always_escalate
        )
        calls = [r for r in result.ledger.records if r.model != _REPLAY]
        return result.model_copy(
            update={"ledger": Ledger(run_id=result.ledger.run_id, records=calls)}
        )

    return TwoWaySystem(name="cascade", cheap=cheap, expensive=expensive)


def _always_escalate(_question: str, _draft: str, _prompt: str) -> float:
    return 0.0
