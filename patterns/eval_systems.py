"""How each pattern of ``patterns`` is evaluated by ``collab eval``: one registered system
factory per pattern (``collab.evaluation.systems.register``), and the baselines beside them.

The CLI loads this module (``load_systems("patterns.eval_systems")``); evaluation itself never
imports patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from collab.evaluation.systems import (
    LLM_ONLY,
    SLM_ONLY,
    EvalSetup,
    OneWaySystem,
    TwoWaySystem,
    register,
)

if TYPE_CHECKING:
    from collab.evaluation.datasets import Item
    from collab.models.base import Model

    from .common import PatternResult

__all__ = [
    "cascade_system",
    "draft_verify_system",
    "router_system",
    "slm_judges_llm_system",
]


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
    from collab.budget.ledger import Ledger
    from collab.models.scripted import ScriptedModel

    from . import cascade
    from .cascade import CascadeConfig

    dataset = setup.dataset
    config = CascadeConfig(
        system=dataset.instructions,
        draft_max_tokens=dataset.max_tokens,
        answer_max_tokens=dataset.max_tokens,
        hint=setup.hint,
    )
    never = config.model_copy(update={"threshold": 0.0})
    # One free run on scripted models loads LangGraph now, not in the first item's latency.
    warm = ScriptedModel(lambda _: ".", name=_REPLAY, kind="local")
    cascade.run("warm-up", slm=warm, llm=warm, config=never, judge=_always_escalate)

    def cheap(item: Item) -> PatternResult:
        return cascade.run(
            item.input, slm=setup.slm, llm=setup.llm, config=never, judge=setup.judge
        )

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


# -- router ----------------------------------------------------------------------------------


@register(
    "router",
    description="the SLM's P(easy) sends each question to the SLM or to the LLM before anyone "
    "answers",
)
def router_system(setup: EvalSetup) -> TwoWaySystem:
    """The router (``patterns.router``), asked as the dataset says, with its difficulty router.

    Deciding is the routing call alone (the SLM's P("yes") to "can a small model answer
    this?"); the cheap side is the router with a route fixed to the SLM, the expensive side
    with one fixed to the LLM, so each is asked exactly what the router would ask it. A
    routed question pays the routing and one answer: escalating replaces the SLM's answer.
    """
    from collab.budget.run import Run, scope
    from collab.models.scripted import ScriptedModel

    from . import router
    from .common import PatternResult
    from .router import DifficultyRouter, RouterConfig

    dataset = setup.dataset
    config = RouterConfig(
        system=dataset.instructions,
        slm_max_tokens=dataset.max_tokens,
        llm_max_tokens=dataset.max_tokens,
    )
    p_easy = DifficultyRouter(setup.slm, prompt=config.difficulty_prompt)
    warm = ScriptedModel(lambda _: ".", name=_REPLAY, kind="local")
    router.run("warm-up", slm=warm, llm=warm, config=config, router=_to_slm)

    def decide(item: Item) -> PatternResult:
        routing = Run(local_model=setup.slm, remote_model=setup.llm)
        with routing, scope(node="route", role="router"):
            p = p_easy(item.input)
        return PatternResult(
            answer="",
            answered_by=setup.slm.name,
            details={"confidence": p},
            ledger=routing.ledger,
        )

    def cheap(item: Item) -> PatternResult:
        return router.run(item.input, slm=setup.slm, llm=setup.llm, config=config, router=_to_slm)

    def expensive(item: Item, _decided: PatternResult) -> PatternResult:
        return router.run(item.input, slm=setup.slm, llm=setup.llm, config=config, router=_to_llm)

    return TwoWaySystem(name="router", cheap=cheap, expensive=expensive, decide=decide)


def _to_slm(_question: str) -> float:
    return 1.0


def _to_llm(_question: str) -> float:
    return 0.0


# -- draft_verify ----------------------------------------------------------------------------


@register(
    "draft_verify",
    description="the SLM drafts; the LLM replies ACCEPT or corrects the draft (esc: corrected)",
)
def draft_verify_system(setup: EvalSetup) -> OneWaySystem:
    """Draft-verify (``patterns.draft_verify``), asked as the dataset says; with the LLM alone
    and the SLM alone as baselines. Escalated: the LLM's correction is the answer.

    The verifier is told the dataset's instructions too, so that a correction follows them
    (a code block, a function call) as the draft had to.
    """
    from collab.models.scripted import ScriptedModel

    from . import draft_verify
    from .draft_verify import DraftVerifyConfig

    dataset = setup.dataset
    config = DraftVerifyConfig(
        system=dataset.instructions,
        draft_max_tokens=dataset.max_tokens,
        verify_system=(
            "You check answers that a smaller model wrote to these instructions: "
            f"{dataset.instructions}\nA correction must follow them too."
        ),
        verify_max_tokens=dataset.max_tokens,
    )
    warm = ScriptedModel(lambda _: ".", name=_REPLAY, kind="local")
    draft_verify.run("warm-up", slm=warm, llm=warm, config=config)

    def answer(question: str) -> PatternResult:
        return draft_verify.run(question, slm=setup.slm, llm=setup.llm, config=config)

    return OneWaySystem(name="draft_verify", answer=answer, baselines=_alone(setup))


# -- slm_judges_llm --------------------------------------------------------------------------


@register(
    "slm_judges_llm",
    description="the LLM answers; the SLM judges the answer (rubric) and failed ones are repaired",
)
def slm_judges_llm_system(setup: EvalSetup) -> OneWaySystem:
    """The judged answer (``patterns.slm_judges_llm``) with its default judge, a rubric on the
    SLM, asked as the dataset says; with the LLM alone and the SLM alone as baselines.

    The LLM's answer is always the answer, so every item counts as escalated. The SLM must
    have ``score`` (a ``LocalModel``): refused here, before any item, otherwise.
    """
    from collab.models.scripted import ScriptedModel

    from . import slm_judges_llm
    from .slm_judges_llm import JudgedAnswerConfig

    dataset = setup.dataset
    config = JudgedAnswerConfig(system=dataset.instructions, answer_max_tokens=dataset.max_tokens)
    # Built once now so that an SLM without score() is refused here, not on every item.
    slm_judges_llm.build(llm=setup.llm, slm=setup.slm, config=config)
    warm = ScriptedModel(lambda _: ".", name=_REPLAY, kind="local", scores=lambda _p, _o: [1, 0])
    slm_judges_llm.run("warm-up", llm=warm, slm=warm, config=config)

    def answer(question: str) -> PatternResult:
        result = slm_judges_llm.run(question, llm=setup.llm, slm=setup.slm, config=config)
        return result.model_copy(update={"escalated": True})

    return OneWaySystem(name="slm_judges_llm", answer=answer, baselines=_alone(setup))


def _alone(setup: EvalSetup) -> dict[str, Callable[[str], PatternResult]]:
    """The LLM alone and the SLM alone, each asked once as the dataset says: the baselines
    of a one-way system."""
    from collab.budget.metered import metered
    from collab.budget.run import Run

    from .common import PatternResult

    dataset = setup.dataset

    def by(model: Model, *, escalated: bool) -> Callable[[str], PatternResult]:
        def answer(question: str) -> PatternResult:
            messages = [
                {"role": "system", "content": dataset.instructions},
                {"role": "user", "content": question},
            ]
            with Run(local_model=setup.slm, remote_model=setup.llm) as alone:
                done = metered(model).complete(messages, max_tokens=dataset.max_tokens)
            return PatternResult(
                answer=done.text.strip(),
                answered_by=done.model,
                escalated=escalated,
                ledger=alone.ledger,
            )

        return answer

    return {LLM_ONLY: by(setup.llm, escalated=True), SLM_ONLY: by(setup.slm, escalated=False)}
