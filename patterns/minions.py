"""MinionS: the LLM writes jobs, SLM workers run them on every chunk of a long document in parallel.

The LLM never reads the document. It is told the question and how many chunks there are, and
writes jobs (typed, through ``schema=``: an instruction and the chunk numbers it applies to);
each job runs on each of its chunks as a separate SLM call, all of them in parallel (LangGraph
``Send``); answers of "NONE" (nothing in this chunk) are dropped; the LLM reads what is left
and either answers or, within ``max_rounds``, says what is missing and writes the next round of
jobs. The result counts the remote tokens spent against the LLM reading the whole document
once (its prompt counted by the LLM's own tokenizer, with no extra call). After "Minions:
Cost-efficient Collaboration Between On-device and Cloud Language Models" (Narayan et al.,
HazyResearch, 2025), whose MinionS protocol this is.

    result = patterns.minions.run("What were the two revenue figures?", document=text,
                                  slm=slm, llm=llm)
    result.details["remote_tokens"], result.details["baseline_remote_tokens"]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Unpack

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from collab.budget.limits import Budget
from collab.budget.metered import estimated_prompt_tokens, metered
from collab.budget.run import Run
from collab.errors import InvalidOutputError
from collab.graph import LEDGER_KEY, LedgerState, node
from collab.models.base import Model
from collab.types import Completion

from .chunking import chunk_text
from .common import CompileOptions, PatternResult, arun_graph, run_graph
from .quoted_findings import QuotedFinding, quote_in
from .rag_index import bm25_ranking

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = [
    "Aggregation",
    "Job",
    "JobPlan",
    "MinionsConfig",
    "MinionsState",
    "arun",
    "build",
    "found_nothing",
    "run",
]


class Job(BaseModel):
    """One instruction for the SLM workers, and the chunks it applies to."""

    instruction: str = Field(min_length=1)
    """What to look for or extract in one chunk ("List every date a payment was made")."""
    chunks: list[int] = Field(default_factory=list)
    """Chunk numbers (from 0) to run it on; empty: every chunk."""


class JobPlan(BaseModel):
    """What the LLM writes each round: the jobs."""

    jobs: list[Job]


class Aggregation(BaseModel):
    """What the LLM writes after reading the workers' findings."""

    done: bool
    """Whether the findings are enough to answer."""
    answer: str
    """The answer (the best so far when not done)."""
    missing: str = ""
    """When not done: what the next round of jobs should look for."""


class MinionsConfig(BaseModel):
    """The knobs of MinionS."""

    model_config = ConfigDict(frozen=True)

    chunk_tokens: int = Field(default=400, gt=0)
    """A chunk's size in the SLM's tokens (what one worker reads)."""
    overlap_tokens: int = Field(default=40, ge=0)
    max_rounds: int = Field(default=2, ge=1)
    """Rounds of jobs at most; the last round's aggregation answers whatever it says."""
    max_jobs: int = Field(default=4, gt=0)
    """Jobs per round kept from the LLM's plan (the rest are dropped)."""
    first_round_every_chunk: bool = True
    """Run the first round's jobs on every chunk, whatever chunks the LLM names: it has seen
    none of them yet, so its numbers are guesses (on the long-document benchmark the 1.5B named
    3 of 7 chunks on average and missed the answer). Later rounds run on the chunks named."""
    chunks_per_job: int | None = Field(default=None, gt=0)
    """Run each job on at most this many of its chunks: those BM25 ranks highest for the
    question and the job's instruction (on the device, no model call); chunks sharing no word
    with them are skipped (all are kept when none does). ``None``: every chunk. A small worker
    given a chunk with nothing for its job often makes a finding up, and the LLM cannot tell."""
    max_tasks: int = Field(default=64, gt=0)
    """Worker calls (job x chunk) per round at most; the rest are dropped, in plan order."""
    planner_system: str = (
        "You coordinate small assistants who each read one chunk of a long document that you "
        "cannot see. Write short, self-contained jobs for them (an instruction that one chunk "
        "alone can answer, and the chunk numbers to run it on, or [] for all). Reply with "
        "JSON only."
    )
    worker_system: str = (
        "You read one excerpt of a longer document. Do the task using only the excerpt. "
        "Reply with the facts you found in one or two sentences, quoting numbers and names "
        "exactly. If the excerpt has nothing for the task, reply NONE."
    )
    quotes: bool = False
    """Workers reply as JSON (``QuotedFinding``, under a grammar): the excerpt's words that
    say what they found, copied, and their answer; a finding whose quote is not in its chunk,
    word for word, is dropped (``quoted_findings``), so what the LLM reads was at least
    written in the document. A reply cut off by ``worker_max_tokens`` counts as nothing."""
    quoting_worker_system: str = (
        "You read one excerpt of a longer document. Do the task using only the excerpt. Reply "
        'with JSON: "quote", the words of the excerpt that answer the task, copied exactly, '
        'and "answer", the answer in a few words with numbers and names as written. If the '
        'excerpt has nothing for the task, reply with an empty "quote" and the "answer" NONE.'
    )
    """The workers' prompt when ``quotes`` is on."""
    aggregator_system: str = (
        "Small assistants ran jobs on chunks of a document you cannot see; their findings "
        "follow. Answer the question from them. Set done to false only if a fact needed "
        "is missing, and say in missing what to look for. Reply with JSON only."
    )
    max_findings: int = Field(default=48, gt=0)
    """Findings the LLM reads at most (the latest; repeated outputs count once), so a weak
    worker that never says NONE cannot overflow its context."""
    max_findings_tokens: int = Field(default=2500, gt=0)
    """Tokens of findings (in the LLM's tokenizer) it reads at most, the latest kept: with
    many chunks and wordy workers, ``max_findings`` of them can overflow a small LLM's
    context (the embedded 1.5B's is 4,096 tokens)."""
    plan_max_tokens: int = Field(default=384, gt=0)
    worker_max_tokens: int = Field(default=96, gt=0)
    aggregate_max_tokens: int = Field(default=384, gt=0)


class MinionsInput(TypedDict):
    """What MinionS takes: the question and the long document the LLM never reads."""

    question: str
    document: str


class MinionsState(LedgerState, total=False):
    """MinionS' state: ``question`` and ``document`` in, ``answer`` out."""

    question: str
    document: str
    chunks: list[str]
    round: int
    jobs: list[dict[str, Any]]
    """This round's jobs (``Job`` dumps)."""
    results: Annotated[list[dict[str, Any]], operator.add]
    """Every worker's output: round, job, chunk, output."""
    findings: list[dict[str, Any]]
    """The outputs kept (not "nothing found"), every round so far."""
    aggregation: dict[str, Any]
    remote_tokens: Annotated[int, operator.add]
    """Tokens (prompt and completion) of the calls the remote model answered."""
    answer: str
    answered_by: str
    escalated: bool
    details: dict[str, Any]


_NOTHING = re.compile(
    r"^\W*(none|n/?a|nothing|not (found|mentioned|stated|given)"
    r"|no (relevant|information|mention))\b",
    re.IGNORECASE,
)


def found_nothing(output: str) -> bool:
    """Whether a worker's output says its chunk had nothing ("NONE", "Not mentioned.", "")."""
    return not output.strip() or _NOTHING.match(output.strip()) is not None


def build(
    *,
    slm: Model,
    llm: Model,
    config: MinionsConfig | None = None,
    **compile_options: Unpack[CompileOptions],
) -> CompiledStateGraph[Any]:
    """MinionS as a compiled LangGraph graph: split -> plan -> work (each job x chunk, in
    parallel) -> collect -> aggregate -> plan again | finish.

    ``compile_options`` go to LangGraph's ``compile``; a budget belongs to one invocation
    (``run(budget=)`` or the enclosing run).
    """
    config = config or MinionsConfig()
    slm, llm = metered(slm), metered(llm)  # metered by each invocation's run

    def split(state: MinionsState) -> MinionsState:
        chunks = chunk_text(
            state["document"],
            doc_id="document",
            max_tokens=config.chunk_tokens,
            overlap_tokens=config.overlap_tokens,
            count_tokens=slm.count_tokens,
        )
        return {"chunks": [c.text for c in chunks], "round": 0, "findings": []}

    @node(role="planner")
    def plan(state: MinionsState) -> MinionsState:
        shown = _shown(state["findings"], config, llm.count_tokens)
        messages = _plan_messages(config, state, shown)
        done = llm.complete(messages, max_tokens=config.plan_max_tokens, schema=JobPlan)
        jobs = JobPlan.model_validate(done.parsed).jobs[: config.max_jobs]
        return {
            "round": state["round"] + 1,
            "jobs": [j.model_dump() for j in jobs],
            "remote_tokens": _remote_tokens(done),
        }

    def dispatch(state: MinionsState) -> list[Any] | str:
        from langgraph.types import Send

        every = config.first_round_every_chunk and state["round"] == 1
        tasks = _tasks(state["jobs"], len(state["chunks"]), every_chunk=every)
        if config.chunks_per_job is not None:
            tasks = _best_tasks(tasks, state, config.chunks_per_job)
        tasks = tasks[: config.max_tasks]
        if not tasks:
            return "aggregate"
        return [
            Send(
                "work",
                {
                    "round": state["round"],
                    "job": job,
                    "chunk": chunk,
                    "instruction": state["jobs"][job]["instruction"],
                    "text": state["chunks"][chunk],
                    LEDGER_KEY: [],
                },
            )
            for job, chunk in tasks
        ]

    @node(role="worker")
    def work(task: dict[str, Any]) -> MinionsState:
        system = config.quoting_worker_system if config.quotes else config.worker_system
        messages = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": f"Excerpt:\n{task['text']}\n\nTask: {task['instruction']}",
            },
        ]
        result = {k: task[k] for k in ("round", "job", "chunk", "instruction")}
        if config.quotes:
            return {"results": [{**result, **_quoted(slm, messages, config, task["text"])}]}
        done = slm.complete(messages, max_tokens=config.worker_max_tokens)
        return {"results": [{**result, "output": done.text.strip()}]}

    def collect(state: MinionsState) -> MinionsState:
        this_round = [r for r in state.get("results", []) if r["round"] == state["round"]]
        kept = [r for r in this_round if not found_nothing(r["output"]) and r.get("quoted", True)]
        return {"findings": [*state["findings"], *kept]}

    @node(role="aggregator")
    def aggregate(state: MinionsState) -> MinionsState:
        shown = _shown(state["findings"], config, llm.count_tokens)
        messages = _aggregate_messages(config, state, shown)
        done = llm.complete(messages, max_tokens=config.aggregate_max_tokens, schema=Aggregation)
        aggregation = Aggregation.model_validate(done.parsed)
        return {
            "aggregation": {**aggregation.model_dump(), "model": done.model},
            "remote_tokens": _remote_tokens(done),
        }

    def after_aggregate(state: MinionsState) -> str:
        if state["aggregation"]["done"] or state["round"] >= config.max_rounds:
            return "finish"
        return "plan"

    def finish(state: MinionsState) -> MinionsState:
        aggregation = state["aggregation"]
        whole = [
            {"role": "system", "content": "Answer the question from the document."},
            {"role": "user", "content": f"Document:\n{state['document']}\n\n{state['question']}"},
        ]
        answer = aggregation["answer"].strip()
        baseline = estimated_prompt_tokens(whole)(llm) + llm.count_tokens(answer)
        results = state.get("results", [])
        spent = state.get("remote_tokens", 0)
        return {
            "answer": answer,
            "answered_by": aggregation["model"],
            "escalated": True,
            "details": {
                "rounds": state["round"],
                "complete": bool(aggregation["done"]),
                "missing": aggregation["missing"],
                "chunks": len(state["chunks"]),
                "worker_calls": len(results),
                "findings": state["findings"],
                "dropped": len(results) - len(state["findings"]),
                "unquoted": sum(not r.get("quoted", True) for r in results),
                "remote_tokens": spent,
                "baseline_remote_tokens": baseline,
                "remote_token_ratio": spent / baseline if baseline else None,
            },
        }

    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(MinionsState, input_schema=MinionsInput)
    graph.add_node("split", split)
    graph.add_node("plan", plan)
    graph.add_node("work", work)
    graph.add_node("collect", collect)
    graph.add_node("aggregate", aggregate)
    graph.add_node("finish", finish)
    graph.add_edge(START, "split")
    graph.add_edge("split", "plan")
    graph.add_conditional_edges("plan", dispatch, ["work", "aggregate"])
    graph.add_edge("work", "collect")
    graph.add_edge("collect", "aggregate")
    graph.add_conditional_edges("aggregate", after_aggregate, ["plan", "finish"])
    graph.add_edge("finish", END)
    return graph.compile(**compile_options)


def run(
    question: str,
    *,
    document: str,
    slm: Model,
    llm: Model,
    config: MinionsConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Answer one question about ``document`` in its own metered run (or in ``run``)."""
    graph = build(slm=slm, llm=llm, config=config)
    inputs = {"question": question, "document": document}
    return run_graph(graph, inputs, run=run, budget=budget, slm=slm, llm=llm)


async def arun(
    question: str,
    *,
    document: str,
    slm: Model,
    llm: Model,
    config: MinionsConfig | None = None,
    budget: Budget | None = None,
    run: Run | None = None,
) -> PatternResult:
    """Async twin of ``run``."""
    graph = build(slm=slm, llm=llm, config=config)
    inputs = {"question": question, "document": document}
    return await arun_graph(graph, inputs, run=run, budget=budget, slm=slm, llm=llm)


def _tasks(
    jobs: list[dict[str, Any]], n_chunks: int, *, every_chunk: bool = False
) -> list[tuple[int, int]]:
    """(job, chunk) pairs: each job on its chunks (all when it names none, or with
    ``every_chunk``; unknown numbers are ignored), each pair once, chunk by chunk."""
    pairs: dict[tuple[int, int], None] = {}
    for j, job in enumerate(jobs):
        chunks = range(n_chunks) if every_chunk or not job["chunks"] else job["chunks"]
        for c in chunks:
            if 0 <= c < n_chunks:
                pairs[(j, c)] = None
    return list(pairs)


def _best_tasks(
    tasks: list[tuple[int, int]], state: MinionsState, per_job: int
) -> list[tuple[int, int]]:
    """Each job's ``per_job`` chunks among its tasks that BM25 ranks highest for the question
    and its instruction, best first; a job none of whose chunks shares a word keeps them all."""
    best: list[tuple[int, int]] = []
    for job, instruction in enumerate(j["instruction"] for j in state["jobs"]):
        mine = [chunk for j, chunk in tasks if j == job]
        query = f"{state['question']} {instruction}"
        ranked = [mine[i] for i in bm25_ranking([state["chunks"][c] for c in mine], query)]
        best += [(job, chunk) for chunk in (ranked[:per_job] if ranked else mine)]
    return best


def _remote_tokens(done: Completion) -> int:
    return done.usage.total_tokens if done.kind == "remote" else 0


def _quoted(
    slm: Model, messages: list[dict[str, str]], config: MinionsConfig, chunk: str
) -> dict[str, Any]:
    """A quoting worker's reply: what the LLM reads (its answer with the words it quoted),
    whether the quote is in its ``chunk`` (``quoted``) and the reply as written (``raw``).
    Nothing found, or a reply cut off before its JSON closed, is "NONE"."""
    try:
        done = slm.complete(messages, max_tokens=config.worker_max_tokens, schema=QuotedFinding)
    except InvalidOutputError:
        return {"output": "NONE", "quoted": True, "raw": ""}
    finding = QuotedFinding.model_validate(done.parsed)
    if found_nothing(finding.answer) and not finding.quote.strip():
        return {"output": "NONE", "quoted": True, "raw": done.text}
    quoted = quote_in(finding.quote, chunk)
    output = f'{finding.answer} (the excerpt says: "{finding.quote.strip()}")'
    return {"output": output, "quoted": quoted, "raw": done.text}


def _shown(
    findings: list[dict[str, Any]], config: MinionsConfig, count_tokens: Callable[[str], int]
) -> list[dict[str, Any]]:
    """The findings the LLM reads: each output once (its first), the latest
    ``config.max_findings`` whose lines take at most ``config.max_findings_tokens``."""
    first: dict[str, dict[str, Any]] = {}
    for finding in findings:
        first.setdefault(finding["output"].strip().lower(), finding)
    shown: list[dict[str, Any]] = []
    room = config.max_findings_tokens
    for finding in reversed(list(first.values())[-config.max_findings :]):
        room -= count_tokens(_findings_text([finding]))
        if room < 0:
            break
        shown.append(finding)
    return shown[::-1]


def _findings_text(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "(no assistant found anything)"
    return "\n".join(
        f"- round {f['round']}, job {f['job'] + 1} ({f['instruction']}), chunk {f['chunk']}: "
        f"{f['output']}"
        for f in findings
    )


def _plan_messages(
    config: MinionsConfig, state: MinionsState, shown: list[dict[str, Any]]
) -> list[dict[str, str]]:
    n = len(state["chunks"])
    user = (
        f"Question: {state['question']}\n"
        f"The document is in {n} chunks, numbered 0 to {n - 1}, of about "
        f"{config.chunk_tokens} tokens each.\n"
    )
    if state["round"] > 0:
        missing = state.get("aggregation", {}).get("missing", "")
        user += f"\nFindings so far:\n{_findings_text(shown)}\nMissing: {missing}\n"
    user += (
        f"\nWrite at most {config.max_jobs} jobs as JSON: "
        '{"jobs": [{"instruction": "...", "chunks": []}]}'
    )
    return [{"role": "system", "content": config.planner_system}, {"role": "user", "content": user}]


def _aggregate_messages(
    config: MinionsConfig, state: MinionsState, shown: list[dict[str, Any]]
) -> list[dict[str, str]]:
    last = state["round"] >= config.max_rounds
    user = (
        f"Question: {state['question']}\n\n"
        f"Findings:\n{_findings_text(shown)}\n\n"
        'Reply as JSON: {"done": true or false, "answer": "...", "missing": "..."}'
    )
    if last:
        user += "\nThis is the last round: give your best answer."
    return [
        {"role": "system", "content": config.aggregator_system},
        {"role": "user", "content": user},
    ]
