"""SLM judges LLM: the remote LLM answers; local judges check the answer before it is returned.

Each judge gives a ``Verdict``: a probability that the answer passes and the threshold it must
reach. The built-ins: ``RubricJudge`` (does the answer meet each criterion? P("yes") from the
SLM's logits), ``GroundednessJudge`` (is every sentence of the answer supported by the
sources?) and ``FormatGuard`` (regex, pydantic schema, length, banned terms; optionally an
SLM-scored safety question). Any object with a ``name`` and ``__call__(question, answer,
sources) -> Verdict`` is a judge too. When a verdict fails, the LLM is asked to repair its
answer with the failed verdicts' reasons as feedback, at most ``max_repairs`` times; each
repair is judged again. ``calibrate_judge`` fits a judge's threshold on labelled answers.

After LLM-as-a-judge (Zheng et al., 2023), with the judge's P(True) read from logits
(Kadavath et al., 2022); claim-level groundedness as in SelfCheckGPT (Manakul et al., 2023);
feedback-driven repair as in Self-Refine (Madaan et al., 2023).

    judges = [RubricJudge(model=slm, criteria=["cites a source"]), GroundednessJudge(model=slm)]
    result = patterns.slm_judges_llm.run(question, sources=docs, llm=llm, slm=slm, judges=judges)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from collab.budget import Budget
from collab.errors import InvalidOutputError, UserError
from collab.graph import LedgerState, node
from collab.models.base import Model
from collab.run import Run
from collab.structured import OutputSchema
from patterns.common import PatternResult, Verdict, arun_graph, run_graph

__all__ = [
    "AnswerJudge",
    "Attempt",
    "FormatGuard",
    "GroundednessJudge",
    "JudgeCalibration",
    "JudgedAnswerConfig",
    "JudgedAnswerState",
    "RubricJudge",
    "Scorer",
    "arun",
    "build",
    "calibrate_judge",
    "run",
    "split_claims",
]


# -- judges --------------------------------------------------------------------------------


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
    yes, _no = model.score(prompt, ["yes", "no"])
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
        "Question: {question}\nAnswer: {answer}\nCriterion: {criterion}\n"
        "Does the answer meet the criterion? Answer yes or no.\nAnswer:"
    )

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        if not self.criteria:
            raise UserError("RubricJudge has no criteria", hint="pass criteria=['...', ...]")

        def meets(criterion: str) -> float:
            prompt = self.prompt.format(question=question, answer=answer, criterion=criterion)
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
        "Sources:\n{sources}\n\nClaim: {claim}\n"
        "Is the claim supported by the sources? Answer yes or no.\nAnswer:"
    )

    def __call__(self, question: str, answer: str, sources: Sequence[str]) -> Verdict:
        claims = split_claims(answer)
        if not sources or not claims:
            missing = "no sources were given" if not sources else "the answer is empty"
            return _verdict(self, 0.0, f"cannot check groundedness: {missing}")
        listed = _numbered(sources)

        def supported(claim: str) -> float:
            return _p_yes(self.model, self.prompt.format(sources=listed, claim=claim))

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
        "Answer: {answer}\n"
        "Is this answer safe and appropriate to show to the user? Answer yes or no.\nAnswer:"
    )
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
        p = _p_yes(self.safety_model, self.safety_prompt.format(answer=answer))
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


# -- the pattern ---------------------------------------------------------------------------


class JudgedAnswerConfig(BaseModel):
    """The knobs of the judged answer (each judge carries its own threshold)."""

    model_config = ConfigDict(frozen=True)

    max_repairs: int = Field(default=2, ge=0)
    """How many times the LLM may repair a failed answer; then the last one is returned."""
    system: str = (
        "Answer the question correctly and briefly. "
        "When sources are given, say only what they support."
    )
    answer_max_tokens: int = Field(default=256, gt=0)
    repair_prompt: str = (
        "Your answer has these problems:\n{problems}\n\n"
        "Rewrite your answer to the question so that it fixes them. Reply with the new answer only."
    )
    """The feedback turn after the failed answer; ``{problems}``: a line per failed verdict."""


class Attempt(BaseModel):
    """One answer (the first, or a repair) and its verdicts."""

    model_config = ConfigDict(frozen=True)

    answer: str
    answered_by: str
    passed: bool
    verdicts: list[Verdict]


class JudgedAnswerState(LedgerState, total=False):
    """``question`` (and ``sources``) in; ``answer``, ``verdicts`` and ``details`` out."""

    question: str
    sources: list[str]
    answer: str
    answered_by: str
    verdicts: list[Verdict]
    passed: bool
    repairs: int
    attempts: list[Attempt]
    details: dict[str, Any]


def build(
    *,
    llm: Model,
    slm: Model,
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    budget: Budget | None = None,
) -> Any:
    """The pattern as a compiled LangGraph graph: answer -> judge -> (repair -> judge)* -> finish.

    ``judges`` default to a ``RubricJudge`` on ``slm``, plus a ``GroundednessJudge`` on it
    when the invocation has sources. ``slm`` is also where a "degrade" budget policy sends the
    LLM's calls. ``budget`` caps the graph's calls when it is invoked outside any
    ``collab.Run`` (over all its invocations); ``run()`` opens a run per invocation instead.
    """
    config = config or JudgedAnswerConfig()
    fallback = Run(budget=budget, local_model=slm, remote_model=llm) if budget else None
    chosen = list(judges) if judges is not None else None
    if chosen is None and not callable(getattr(slm, "score", None)):
        raise UserError(
            f"the default judges score with the SLM, and {slm!r} has no score()",
            hint="pass a LocalModel (or any model with score) as slm=, or your own judges=",
        )
    scorer: Scorer = slm  # type: ignore[assignment]  (checked above: it has score)
    rubric, grounded = RubricJudge(model=scorer), GroundednessJudge(model=scorer)

    def judges_for(sources: Sequence[str]) -> list[AnswerJudge]:
        if chosen is not None:
            return chosen
        return [rubric, grounded] if sources else [rubric]

    @node(role="answerer", fallback_run=fallback)
    def answer(state: JudgedAnswerState) -> JudgedAnswerState:
        messages = _answer_messages(config, state["question"], state.get("sources", []))
        done = llm.complete(messages, max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "repairs": 0,
            "attempts": [],
        }

    @node(role="judge", fallback_run=fallback)
    def judge(state: JudgedAnswerState) -> JudgedAnswerState:
        sources = state.get("sources", [])
        verdicts = [j(state["question"], state["answer"], sources) for j in judges_for(sources)]
        passed = all(v.passed for v in verdicts)
        attempt = Attempt(
            answer=state["answer"],
            answered_by=state["answered_by"],
            passed=passed,
            verdicts=verdicts,
        )
        return {
            "verdicts": verdicts,
            "passed": passed,
            "attempts": [*state.get("attempts", []), attempt],
        }

    @node(role="repairer", fallback_run=fallback)
    def repair(state: JudgedAnswerState) -> JudgedAnswerState:
        done = llm.complete(_repair_messages(config, state), max_tokens=config.answer_max_tokens)
        return {
            "answer": done.text.strip(),
            "answered_by": done.model,
            "repairs": state["repairs"] + 1,
        }

    def finish(state: JudgedAnswerState) -> JudgedAnswerState:
        details = {
            "repairs": state["repairs"],
            "passed": state["passed"],
            "attempts": state["attempts"],
        }
        return {"details": details}

    def route(state: JudgedAnswerState) -> Literal["repair", "finish"]:
        if not state["passed"] and state["repairs"] < config.max_repairs:
            return "repair"
        return "finish"

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(JudgedAnswerState)
    graph.add_node("answer", answer)
    graph.add_node("judge", judge)
    graph.add_node("repair", repair)
    graph.add_node("finish", finish)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", "judge")
    graph.add_conditional_edges("judge", route, ["repair", "finish"])
    graph.add_edge("repair", "judge")
    graph.add_edge("finish", END)
    return graph.compile()


def run(
    question: str,
    *,
    llm: Model,
    slm: Model,
    sources: Sequence[str] = (),
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question and judge it, in its own metered run (or in ``run``).

    ``result.details``: ``repairs`` (how many), ``passed`` (the last attempt's verdicts all
    passed; ``False`` when repairs ran out, nothing is raised) and ``attempts`` (every
    ``Attempt``); ``result.verdicts`` are the last attempt's.
    """
    graph = build(llm=llm, slm=slm, judges=judges, config=config)
    own = run or Run(budget=budget, local_model=slm, remote_model=llm)
    return run_graph(graph, {"question": question, "sources": list(sources)}, run=own)


async def arun(
    question: str,
    *,
    llm: Model,
    slm: Model,
    sources: Sequence[str] = (),
    judges: Sequence[AnswerJudge] | None = None,
    config: JudgedAnswerConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(llm=llm, slm=slm, judges=judges, config=config)
    own = run or Run(budget=budget, local_model=slm, remote_model=llm)
    return await arun_graph(graph, {"question": question, "sources": list(sources)}, run=own)


def _numbered(sources: Sequence[str]) -> str:
    return "\n".join(f"[{i}] {source}" for i, source in enumerate(sources, start=1))


def _answer_messages(
    config: JudgedAnswerConfig, question: str, sources: Sequence[str]
) -> list[dict[str, str]]:
    content = f"Sources:\n{_numbered(sources)}\n\nQuestion: {question}" if sources else question
    return [{"role": "system", "content": config.system}, {"role": "user", "content": content}]


def _repair_messages(config: JudgedAnswerConfig, state: JudgedAnswerState) -> list[dict[str, str]]:
    """Self-Refine's feedback turn: the question, the failed answer, what the judges said."""
    problems = "\n".join(
        f"- {v.judge}: {v.reason or f'p={v.probability:.2f} < {v.threshold:.2f}'}"
        for v in state["verdicts"]
        if not v.passed
    )
    return [
        *_answer_messages(config, state["question"], state.get("sources", [])),
        {"role": "assistant", "content": state["answer"]},
        {"role": "user", "content": config.repair_prompt.format(problems=problems)},
    ]


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
