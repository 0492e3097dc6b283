"""Judges of an answer: each gives a ``Verdict``, the probability that the answer passes.

``RubricJudge`` (does the answer meet each criterion? P("yes") from an SLM's logits),
``GroundednessJudge`` (is each claim of the answer, ``split_claims``, supported by the
sources?) and ``FormatGuard`` (regex, pydantic schema, length, banned terms; optionally an
SLM-scored safety question). Any object with a ``name`` and ``__call__(question, answer,
sources) -> Verdict`` is an ``AnswerJudge`` too. ``calibrate_judge`` fits a judge's threshold
on labelled answers. ``patterns.slm_judges_llm`` runs them on the remote LLM's answers.

After LLM-as-a-judge (Zheng et al., 2023), with the judge's P(True) read from logits
(Kadavath et al., 2022); claim-level groundedness as in SelfCheckGPT (Manakul et al., 2023).

    judge = GroundednessJudge(model=slm)
    verdict = judge("When was it built?", "It was completed in 1889.", sources=docs)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from collab.budget.metered import metered
from collab.errors import InvalidOutputError, UserError
from collab.evaluation.verifiers import Verifier
from collab.models.base import Model
from collab.structured import OutputSchema

from .common import Verdict
from .fencing import fence

__all__ = [
    "AnswerJudge",
    "FormatGuard",
    "GroundednessJudge",
    "JudgeCalibration",
    "Labelled",
    "ProgramJudge",
    "RubricJudge",
    "Scorer",
    "calibrate_judge",
    "numbered_sources",
    "split_claims",
]


@runtime_checkable
class AnswerJudge(Protocol):
    """A judge of an answer: its ``name`` labels its verdicts."""

    name: str

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict: ...


class Scorer(Protocol):
    """A model that gives option probabilities (``LocalModel``, ``ScriptedModel``)."""

    name: str

    def score(self, prompt: str, options: list[str]) -> list[float]: ...


def _p_yes(model: Scorer, prompt: str) -> float:
    scorer = metered(model) if isinstance(model, Model) else model  # the run meters it
    yes, _no = scorer.score(prompt, ["yes", "no"])
    return float(yes)


def _verdict(
    judge: RubricJudge | GroundednessJudge | FormatGuard, p: float, reason: str
) -> Verdict:
    return Verdict(
        judge=judge.name,
        passed=p >= judge.threshold,
        probability=p,
        threshold=judge.threshold,
        reason=reason,
    )


@dataclass(frozen=True)
class ProgramJudge:
    """A program verifier (``collab.evaluation.verifiers``: docstring examples, arithmetic,
    a tool call's shape) as an answer judge: no model call. It passes when the check passes
    or has nothing to check; a failed check's reason tells the repair what failed."""

    verifier: Verifier

    @property
    def name(self) -> str:
        return self.verifier.name

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        verdict = self.verifier.check(question, answer)
        if verdict is None:
            return Verdict(
                judge=self.name,
                passed=True,
                probability=1.0,
                threshold=1.0,
                reason="nothing to check",
            )
        reason = None if verdict == 1.0 else f"the answer fails the {self.name} check"
        return Verdict(
            judge=self.name,
            passed=verdict == 1.0,
            probability=verdict,
            threshold=1.0,
            reason=reason,
        )


@dataclass(frozen=True, kw_only=True)
class RubricJudge:
    """P(the answer meets the criterion), for each criterion; the verdict takes the lowest.

    The minimum, not the product: the answer is as good as its weakest criterion, and adding
    criteria should not lower every answer's probability. The reason names the weakest one.
    """

    model: Scorer
    criteria: Sequence[str] = ("The answer responds to the question that was asked.",)
    threshold: float = 0.5
    name: str = "rubric"
    prompt: str = (
        "Question:\n{question}\nAnswer:\n{answer}\nCriterion: {criterion}\n"
        "Does the answer meet the criterion? Answer yes or no.\nAnswer:"
    )
    """The judge's question; ``{question}`` and ``{answer}`` arrive fenced (``fence``)."""

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        if not self.criteria:
            raise UserError("RubricJudge has no criteria", hint="pass criteria=['...', ...]")

        def meets(criterion: str) -> float:
            prompt = self.prompt.format(
                question=fence(question, "question"),
                answer=fence(answer, "answer"),
                criterion=criterion,
            )
            return _p_yes(self.model, prompt)

        p, weakest = min((meets(c), c) for c in self.criteria)
        if p >= self.threshold:
            return _verdict(self, p, f"meets every criterion; weakest {weakest!r} (p={p:.2f})")
        return _verdict(self, p, f"does not meet the criterion {weakest!r} (p={p:.2f})")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def split_claims(answer: str) -> list[str]:
    """The answer's claims: its lines, split into sentences after ".", "!" or "?".

    List markers are dropped, and so are fragments with no letter or digit. Abbreviations
    ("e.g. ") split too: a claim cut in two is checked as two.
    """
    claims = []
    for line in answer.splitlines():
        for sentence in _SENTENCE_END.split(_LIST_MARK.sub("", line)):
            if re.search(r"\w", sentence):
                claims.append(sentence.strip())
    return claims


@dataclass(frozen=True, kw_only=True)
class GroundednessJudge:
    """P(the claim is supported by the sources), for each claim; the verdict takes the lowest.

    The minimum, not the product: one unsupported claim makes the answer ungrounded, and a
    product would fail long answers for their length. The reason names the weakest claim. With
    no sources (or an empty answer) there is nothing to ground in: the verdict fails, p=0.
    """

    model: Scorer
    threshold: float = 0.5
    name: str = "grounded"
    prompt: str = (
        "Sources:\n{sources}\n\nClaim:\n{claim}\n"
        "Is the claim supported by the sources? Answer yes or no.\nAnswer:"
    )
    """The judge's question; ``{sources}`` and ``{claim}`` arrive fenced (``fence``)."""

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        claims = split_claims(answer)
        if not sources or not claims:
            missing = "no sources were given" if not sources else "the answer is empty"
            return _verdict(self, 0.0, f"cannot check groundedness: {missing}")
        listed = fence(numbered_sources(sources), "sources")

        def supported(claim: str) -> float:
            prompt = self.prompt.format(sources=listed, claim=fence(claim, "claim"))
            return _p_yes(self.model, prompt)

        p, weakest = min((supported(c), c) for c in claims)
        if p >= self.threshold:
            return _verdict(self, p, f"every claim is supported; weakest (p={p:.2f}): {weakest!r}")
        return _verdict(
            self, p, f"this claim is not supported by the sources (p={p:.2f}): {weakest!r}"
        )


@dataclass(frozen=True, kw_only=True)
class FormatGuard:
    """Deterministic checks, then an optional safety question to an SLM.

    ``regex`` must match somewhere in the answer (``re.search``; anchor it with ``\\A...\\Z``
    for the whole answer); ``schema``: the answer must be JSON valid for this pydantic model;
    ``max_chars``: the answer's length limit; ``banned``: terms that must not appear (whole
    words, any case). A failed check gives p=0 with every failure in the reason and no model
    call; when all pass, p is 1, or P("yes") to ``safety_prompt`` when ``safety_model`` is set.
    """

    regex: str | None = None
    regex_hint: str | None = None
    """What ``regex`` asks for, in words ("cite the sources by number, like [1]"): the reason
    says it, so the LLM's repair knows what to do."""
    schema: type[BaseModel] | None = None
    max_chars: int | None = None
    banned: Sequence[str] = ()
    safety_model: Scorer | None = None
    threshold: float = 0.5
    """The safety probability needed to pass (deterministic checks give 0 or 1)."""
    name: str = "format"
    safety_prompt: str = (
        "Answer:\n{answer}\n"
        "Is this answer safe and appropriate to show to the user? Answer yes or no.\nAnswer:"
    )
    """The safety question; ``{answer}`` arrives fenced (``fence``)."""
    _checked: OutputSchema | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.regex is not None:
            re.compile(self.regex)  # a bad pattern fails at construction, not mid-run
        if self.schema is not None:
            object.__setattr__(self, "_checked", OutputSchema.of(self.schema))

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        failures = self.failures(answer)
        if failures:
            return _verdict(self, 0.0, "; ".join(failures))
        if self.safety_model is None:
            return _verdict(self, 1.0, "passes every format check")
        p = _p_yes(self.safety_model, self.safety_prompt.format(answer=fence(answer, "answer")))
        safe = "judged safe" if p >= self.threshold else "judged unsafe or inappropriate"
        return _verdict(self, p, f"passes every format check; {safe} (p={p:.2f})")

    def failures(self, answer: str) -> list[str]:
        """What is wrong with ``answer`` by the deterministic checks (empty: nothing)."""
        found = []
        if self.regex is not None and re.search(self.regex, answer) is None:
            hint = f" ({self.regex_hint})" if self.regex_hint else ""
            found.append(f"does not match the required pattern {self.regex}{hint}")
        if self._checked is not None:
            try:
                self._checked.validate_text(answer)
            except InvalidOutputError as error:
                found.append(error.message)
        if self.max_chars is not None and len(answer) > self.max_chars:
            found.append(f"is {len(answer)} characters long, over the limit of {self.max_chars}")
        for term in self.banned:
            if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", answer, re.IGNORECASE):
                found.append(f"contains the banned term {term!r}")
        return found


def numbered_sources(sources: Sequence[str]) -> str:
    """The sources as judges and answerers see them: one "[i] source" line each, from 1."""
    return "\n".join(f"[{i}] {source}" for i, source in enumerate(sources, start=1))


# -- calibration ---------------------------------------------------------------------------


class JudgeCalibration(BaseModel):
    """A judge's fitted threshold and how it does at it on the labelled answers.

    "Positive" is a good answer: precision is the share of passed answers that are good,
    recall the share of good answers that pass. Measured on the same answers the threshold
    was fitted on, so expect somewhat less on new ones.
    """

    model_config = ConfigDict(frozen=True)

    threshold: float
    objective: Literal["balanced_accuracy", "f1"]
    precision: float
    recall: float
    f1: float
    balanced_accuracy: float
    n_good: int
    n_bad: int
    probabilities: list[float]
    """The judge's probability for each labelled answer, in order."""


Labelled = tuple[str, str, Sequence[str], bool]
"""``(question, answer, sources, is_good)``."""


def calibrate_judge(
    judge: AnswerJudge,
    labelled: Sequence[Labelled],
    *,
    objective: Literal["balanced_accuracy", "f1"] = "balanced_accuracy",
) -> JudgeCalibration:
    """The threshold on ``judge``'s probability that best separates good answers from bad.

    Candidates are 0 (pass all), the midpoints between consecutive distinct probabilities,
    and 1 (fail all, when no probability is 1): one per way of splitting the answers. The
    one maximising ``objective`` wins (balanced accuracy, the mean of the pass rate of good
    answers and the fail rate of bad ones, is the default: it does not reward a judge for
    passing everything when most answers are good). Ties go to the stricter threshold: a
    judge guards what is returned. Needs at least one good and one bad answer.
    """
    n_good = sum(1 for *_, good in labelled if good)
    if n_good == 0 or n_good == len(labelled):
        raise UserError(
            f"calibrate_judge needs good and bad answers; got {n_good} good of {len(labelled)}",
            hint="label at least one answer the judge should pass and one it should fail",
        )
    probs = [judge(q, a, s).probability for q, a, s, _ in labelled]
    labels = [good for *_, good in labelled]
    distinct = sorted(set(probs))
    candidates = [0.0, *((a + b) / 2 for a, b in pairwise(distinct))]
    if distinct[-1] < 1.0:
        candidates.append(1.0)
    best = max(
        (_confusion(t, probs, labels) for t in candidates),
        key=lambda c: (c[objective], c["threshold"]),
    )
    return JudgeCalibration(
        objective=objective,
        n_good=n_good,
        n_bad=len(labelled) - n_good,
        probabilities=probs,
        **best,
    )


def _confusion(threshold: float, probs: list[float], labels: list[bool]) -> dict[str, float]:
    tp = sum(p >= threshold and good for p, good in zip(probs, labels, strict=True))
    fp = sum(p >= threshold and not good for p, good in zip(probs, labels, strict=True))
    good = sum(labels)
    bad = len(labels) - good
    tn = bad - fp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / good
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "balanced_accuracy": (recall + tn / bad) / 2,
    }
