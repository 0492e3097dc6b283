"""The router example's graph: easy questions stay local, hard ones go to the LLM."""

from __future__ import annotations

import math

from collab.patterns.common import result_from

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example

example = load_example("router_qa")
CONFIG = example.router_config(threshold=0.5, k=3)


class EmbeddingSLM(ScriptedModel):
    """A scripted SLM with ``embed``: capital and colour questions point one way, sums another."""

    def __init__(self, reply: str) -> None:
        super().__init__(lambda _: reply, name="slm", kind="local")

    def embed(self, texts: list[str]) -> list[list[float]]:
        def angle(text: str) -> float:
            hard = any(w in text for w in ("multiplied", "root", "minus", "painted"))
            return math.radians(90 if hard else 0)

        return [[math.cos(angle(t)), math.sin(angle(t))] for t in texts]


def llm() -> ScriptedModel:
    return ScriptedModel(lambda _: "391", name="llm", kind="remote", cost_per_token_usd=0.001)


EASY_ONLY = "Rome, Tokyo, blue, eight, Paris"
"""An SLM reply right on every easy labelled question (capitals, colours, legs) only."""


def test_the_knn_router_learns_what_the_slm_gets_right() -> None:
    slm = EmbeddingSLM(EASY_ONLY)
    with Run() as run:
        chosen, labelled = example.knn_router(slm, config=CONFIG)
    assert [q for q, _ in labelled] == [q for q, _ in example.LABELLED_QA]
    assert [right for _, right in labelled] == [True] * 4 + [False] * 4
    assert chosen.k == 3
    assert {(r.node, r.role) for r in run.ledger.records} == {("label", "labeller")}


def test_an_easy_question_stays_with_the_slm() -> None:
    slm = EmbeddingSLM(EASY_ONLY)
    chosen, _ = example.knn_router(slm, config=CONFIG)
    graph = example.build_graph(slm, llm(), config=CONFIG, chosen=chosen)
    with Run() as run:
        out = graph.invoke({"question": "What is the capital of France?"})
    result = result_from(out)
    assert (result.answer, result.answered_by, result.escalated) == (EASY_ONLY, "slm", False)
    assert result.details["p_easy"] == 1.0
    assert [r.node for r in run.ledger.records] == ["route", "route", "slm_answer"]  # embeds too


def test_a_hard_question_goes_to_the_llm() -> None:
    slm = EmbeddingSLM(EASY_ONLY)
    chosen, _ = example.knn_router(slm, config=CONFIG)
    remote = llm()
    with Run() as run:
        out = example.build_graph(slm, remote, config=CONFIG, chosen=chosen).invoke(
            {"question": "What is 17 multiplied by 23?"}
        )
    assert (out["answer"], out["answered_by"], out["route"]) == ("391", "llm", "llm")
    assert remote.calls[0][-1].content == "What is 17 multiplied by 23?"
    assert run.ledger.records[-1].node == "llm_answer" and run.ledger.total().cost_usd > 0


def test_the_difficulty_router_reads_the_slms_yes_probability() -> None:
    slm = ScriptedModel(
        lambda _: "Paris", name="slm", kind="local", scores=lambda _p, _o: [0.2, 0.8]
    )
    out = example.build_graph(slm, llm(), config=CONFIG, chosen=None).invoke(
        {"question": "What is the cube root of 4913?"}
    )
    assert out["p_easy"] == 0.2 and out["answered_by"] == "llm"


def test_the_routes_table_shows_each_question() -> None:
    slm = ScriptedModel(lambda _: "Paris", name="slm", kind="local", scores=lambda _p, _o: [1, 0])
    out = example.build_graph(slm, llm(), config=CONFIG, chosen=None).invoke({"question": "Q?"})
    table = example.routes_table([("Q?", result_from(out))])
    assert table.row_count == 1
