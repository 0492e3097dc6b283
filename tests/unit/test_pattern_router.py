"""patterns.router: route each question to the SLM or the LLM before anyone answers."""

from __future__ import annotations

import math
import operator
from typing import Annotated, Any, TypedDict

import pytest
from collab.patterns.router import NeighbourRouter, RouterConfig
from langgraph.graph import END, START, StateGraph

from collab import Budget, Run, ScriptedModel, UserError
from collab.graph import ledger_of
from collab.patterns import router


def slm_with(answer: str = "Paris", p_yes: float = 0.5) -> ScriptedModel:
    return ScriptedModel(
        lambda _: answer, name="slm", kind="local", scores=lambda _p, _o: [p_yes, 1 - p_yes]
    )


def llm_with(answer: str = "391") -> ScriptedModel:
    return ScriptedModel(lambda _: answer, name="llm", kind="remote", cost_per_token_usd=0.001)


class EmbeddingSLM(ScriptedModel):
    """A scripted SLM with ``embed``: each known text has a direction in the plane."""

    def __init__(self, directions: dict[str, float], answer: str = "Paris") -> None:
        super().__init__(lambda _: answer, name="slm", kind="local")
        self.directions = directions
        self.embedded: list[list[str]] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.embedded.append(list(texts))
        angles = [math.radians(self.directions[t]) for t in texts]
        return [[math.cos(a), math.sin(a)] for a in angles]


# Easy questions point near 0 degrees, hard ones near 90.
DIRECTIONS = {"e1": 0, "e2": 10, "e3": 20, "h1": 80, "h2": 90, "easy?": 5, "hard?": 85, "mid?": 47}
LABELLED = [("e1", True), ("e2", True), ("e3", True), ("h1", False), ("h2", False)]


# -- the difficulty router (the SLM's own "yes" probability) -------------------------------


def test_an_easy_question_goes_to_the_slm_and_the_llm_is_never_called() -> None:
    slm, llm = slm_with("Paris", p_yes=0.9), llm_with()
    result = router.run("Capital of France?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by, result.escalated) == ("Paris", "slm", False)
    assert llm.calls == []
    assert result.details == {
        "route": "slm",
        "p_easy": pytest.approx(0.9),
        "threshold": 0.5,
        "router": "difficulty",
    }
    assert [(r.node, r.role) for r in result.ledger.records] == [
        ("route", "router"),
        ("slm_answer", "answerer"),
    ]
    assert result.cost_usd == 0


def test_a_hard_question_goes_to_the_llm_and_the_slm_only_routes() -> None:
    seen: list[str] = []

    def scores(prompt: str, options: list[str]) -> list[float]:
        seen.append(prompt)
        assert options == ["yes", "no"]
        return [0.2, 0.8]

    slm = ScriptedModel([], name="slm", kind="local", scores=scores)
    llm = llm_with("391")
    result = router.run("What is 17 * 23?", slm=slm, llm=llm)
    assert (result.answer, result.answered_by, result.escalated) == ("391", "llm", True)
    assert slm.calls == []  # it scored, it did not answer
    assert "What is 17 * 23?" in seen[0] and "small language model" in seen[0]
    assert llm.calls[0][-1].content == "What is 17 * 23?"
    assert result.details["route"] == "llm"
    assert [r.node for r in result.ledger.records] == ["route", "llm_answer"]
    assert result.cost_usd > 0


def test_a_probability_equal_to_the_threshold_goes_to_the_slm() -> None:
    slm, llm = slm_with("Paris", p_yes=0.25), llm_with()
    result = router.run("Capital?", slm=slm, llm=llm, config=RouterConfig(threshold=0.25))
    assert result.details["route"] == "slm" and llm.calls == []


def test_the_difficulty_prompt_is_configurable() -> None:
    seen: list[str] = []
    slm = ScriptedModel(
        lambda _: "ok", name="slm", kind="local", scores=lambda p, _o: seen.append(p) or [1, 1]
    )
    config = RouterConfig(difficulty_prompt="Easy? {question} yes/no:")
    router.run("2 + 2?", slm=slm, llm=llm_with(), config=config)
    assert seen == ["Easy? 2 + 2? yes/no:"]


def test_a_model_without_score_cannot_judge_difficulty() -> None:
    class NoScore:
        name, kind = "bare", "local"

    with pytest.raises(UserError, match="has no score"):
        router.build(slm=NoScore(), llm=llm_with())  # type: ignore[arg-type]


# -- the neighbour router (k-NN over labelled examples) ------------------------------------


def test_neighbours_of_easy_examples_send_the_question_to_the_slm() -> None:
    slm, llm = EmbeddingSLM(DIRECTIONS), llm_with()
    result = router.run("easy?", slm=slm, llm=llm, router=LABELLED, config=RouterConfig(k=3))
    assert (result.answered_by, result.details["router"]) == ("slm", "neighbours")
    assert result.details["p_easy"] == 1.0  # e1, e2, e3
    assert llm.calls == []
    # The router's embeddings (the examples', then the question's) are metered calls too.
    assert [r.node for r in result.ledger.records] == ["route", "route", "slm_answer"]


def test_neighbours_of_hard_examples_send_the_question_to_the_llm() -> None:
    slm, llm = EmbeddingSLM(DIRECTIONS), llm_with("391")
    result = router.run("hard?", slm=slm, llm=llm, router=LABELLED, config=RouterConfig(k=3))
    # Nearest to 85 degrees: h1 (80), h2 (90), then e3 (20): one easy vote in three.
    assert result.details["p_easy"] == pytest.approx(1 / 3)
    assert (result.answer, result.escalated) == ("391", True)


def test_the_vote_is_the_share_of_the_k_nearest_the_slm_got_right() -> None:
    slm = EmbeddingSLM(DIRECTIONS)
    knn = NeighbourRouter(LABELLED, model=slm, k=4)
    assert knn("mid?") == pytest.approx(2 / 4)  # e3 (27 away), h1 (33), e2 (37), h2 (43)
    assert NeighbourRouter(LABELLED, model=slm, k=50)("mid?") == pytest.approx(3 / 5)


def test_the_examples_are_embedded_once_then_one_embedding_per_question() -> None:
    slm, llm = EmbeddingSLM(DIRECTIONS), llm_with()
    knn = NeighbourRouter(LABELLED, model=slm, k=3)
    graph = router.build(slm=slm, llm=llm, router=knn)
    for question in ("easy?", "hard?", "mid?"):
        graph.invoke({"question": question})
    assert slm.embedded == [["e1", "e2", "e3", "h1", "h2"], ["easy?"], ["hard?"], ["mid?"]]


def test_the_neighbour_router_needs_embed_and_examples() -> None:
    with pytest.raises(UserError, match="has no embed"):
        NeighbourRouter(LABELLED, model=slm_with(), k=3)
    with pytest.raises(UserError, match="needs labelled examples"):
        NeighbourRouter([], model=EmbeddingSLM(DIRECTIONS))


# -- a user function -----------------------------------------------------------------------


@pytest.mark.parametrize(("p", "route", "by"), [(0.7, "slm", "slm"), (0.3, "llm", "llm")])
def test_a_function_router_decides_with_its_probability(p: float, route: str, by: str) -> None:
    asked: list[str] = []

    def by_length(question: str) -> float:
        asked.append(question)
        return p

    result = router.run("Capital?", slm=slm_with(), llm=llm_with(), router=by_length)
    assert asked == ["Capital?"]
    assert (result.details["route"], result.answered_by) == (route, by)
    assert result.details["router"] == "function"


@pytest.mark.parametrize("p", [1.5, -0.1, float("nan")])
def test_a_router_that_returns_no_probability_is_an_error(p: float) -> None:
    with pytest.raises(UserError, match="not a probability"):
        router.run("Capital?", slm=slm_with(), llm=llm_with(), router=lambda _q: p)


def test_a_router_of_the_wrong_type_is_an_error() -> None:
    with pytest.raises(UserError, match="router must be"):
        router.build(slm=slm_with(), llm=llm_with(), router=42)  # type: ignore[arg-type]


# -- budgets, graphs, async, streaming -----------------------------------------------------


def test_an_exhausted_budget_degrades_the_llm_answer_to_the_slm() -> None:
    slm, llm = slm_with("421", p_yes=0.1), llm_with("391")
    result = router.run("17 * 23?", slm=slm, llm=llm, budget=Budget(usd=0.0, policy="degrade"))
    assert result.degraded and result.escalated  # routed to the LLM, answered by the SLM
    assert (result.answer, result.answered_by) == ("421", "slm")
    assert llm.calls == []
    record = result.ledger.records[-1]
    assert (record.node, record.outcome, record.original_model) == ("llm_answer", "degraded", "llm")


def test_a_budget_belongs_to_the_invocation_s_run_and_build_takes_compile_options() -> None:
    slm, llm = slm_with("421", p_yes=0.1), llm_with("391")
    graph = router.build(slm=slm, llm=llm, name="my-router")
    assert graph.name == "my-router"
    with Run(budget=Budget(usd=0.0, policy="degrade"), local_model=slm):
        out = graph.invoke({"question": "17 * 23?"})
    assert out["answer"] == "421" and llm.calls == []
    assert [r.outcome for r in ledger_of(out).records] == ["ok", "degraded"]


def test_works_as_a_subgraph_of_a_user_graph() -> None:
    slm, llm = slm_with("421", p_yes=0.1), llm_with("391")

    class Outer(TypedDict, total=False):
        question: str
        answer: str
        collab_calls: Annotated[list[dict[str, Any]], operator.add]
        log: Annotated[list[str], operator.add]

    def polish(state: Outer) -> dict[str, Any]:
        return {"answer": state["answer"] + "!", "log": ["polished"]}

    builder = StateGraph(Outer)
    builder.add_node("router", router.build(slm=slm, llm=llm))
    builder.add_node("polish", polish)
    builder.add_edge(START, "router")
    builder.add_edge("router", "polish")
    builder.add_edge("polish", END)
    with Run() as run:
        out = builder.compile().invoke({"question": "17 * 23?"})
    assert out["answer"] == "391!" and out["log"] == ["polished"]
    assert [(r.node, r.model) for r in ledger_of(out).records] == [
        ("route", "slm"),
        ("llm_answer", "llm"),
    ]
    assert len(run.ledger) == 2


def test_streaming_updates_shows_each_step_with_its_calls() -> None:
    slm, llm = slm_with("421", p_yes=0.1), llm_with("391")
    graph = router.build(slm=slm, llm=llm)
    with Run():
        updates = list(graph.stream({"question": "17 * 23?"}, stream_mode="updates"))
    assert [next(iter(u)) for u in updates] == ["route", "llm_answer"]
    route, answer = updates[0]["route"], updates[1]["llm_answer"]
    assert route["route"] == "llm" and route["p_easy"] == pytest.approx(0.1)
    assert [c["model"] for c in route["collab_calls"]] == ["slm"]
    assert answer["answer"] == "391" and answer["collab_calls"][0]["kind"] == "remote"


async def test_async_run_gives_the_same_result() -> None:
    slm, llm = slm_with("421", p_yes=0.1), llm_with("391")
    result = await router.arun("17 * 23?", slm=slm, llm=llm)
    assert (result.answer, result.escalated, result.details["route"]) == ("391", True, "llm")
    assert [r.node for r in result.ledger.records] == ["route", "llm_answer"]


async def test_async_streaming_updates() -> None:
    graph = router.build(slm=slm_with("Paris"), llm=llm_with(), router=lambda _q: 0.9)
    async with Run():
        updates = [u async for u in graph.astream({"question": "Capital?"}, stream_mode="updates")]
    assert [next(iter(u)) for u in updates] == ["route", "slm_answer"]


# -- calibration and labelling -------------------------------------------------------------

ANSWERS = {"q1": "a1", "q2": "a2", "q3": "wrong", "q4": "wrong"}
P_EASY = {"q1": 0.9, "q2": 0.7, "q3": 0.4, "q4": 0.2}


def qa_models() -> tuple[ScriptedModel, ScriptedModel]:
    slm = ScriptedModel(lambda m: ANSWERS[m[-1].content], name="slm", kind="local")
    llm = ScriptedModel(
        lambda m: "a" + m[-1].content[1:], name="llm", kind="remote", cost_per_token_usd=0.001
    )
    return slm, llm


def test_calibrate_picks_the_cheapest_threshold_that_keeps_the_llm_accuracy() -> None:
    slm, llm = qa_models()
    examples = [("q1", "a1"), ("q2", "a2"), ("q3", "a3"), ("q4", "a4")]
    calibration = router.calibrate(
        examples, slm=slm, llm=llm, metric="exact", keep=1.0, router=P_EASY.__getitem__
    )
    assert (calibration.llm_only_accuracy, calibration.slm_only_accuracy) == (1.0, 0.5)
    assert calibration.met and calibration.expected_accuracy == 1.0
    assert 0.4 < calibration.threshold <= 0.7  # q3 and q4 go to the LLM
    assert calibration.escalation_rate == 0.5
    # Each LLM answer costs (system + question + answer words) * $0.001; the SLM is free.
    per_llm_answer = (len(RouterConfig().system.split()) + 2) * 0.001
    assert calibration.llm_only_cost_usd == pytest.approx(per_llm_answer)
    assert calibration.expected_cost_usd == pytest.approx(per_llm_answer / 2)
    config = RouterConfig(threshold=calibration.threshold)
    answers = [
        router.run(q, slm=slm, llm=llm, config=config, router=P_EASY.__getitem__).answer
        for q, _ in examples
    ]
    assert answers == ["a1", "a2", "a3", "a4"]


def test_calibrate_charges_an_escalation_only_what_it_adds_to_the_slm_answer() -> None:
    # A priced SLM: routing to the LLM replaces the SLM's answer, it does not add to it.
    slm = ScriptedModel(lambda m: "a1", name="slm", kind="remote", cost_per_token_usd=0.0001)
    llm = ScriptedModel(lambda m: "a1", name="llm", kind="remote", cost_per_token_usd=0.001)
    calibration = router.calibrate([("q1", "a1")], slm=slm, llm=llm, router=lambda _q: 0.0)
    words = len(RouterConfig().system.split()) + 2
    never, always = calibration.curve[0], calibration.curve[-1]
    assert never.cost_usd == pytest.approx(words * 0.0001)
    assert always.cost_usd == pytest.approx(words * 0.001)


def test_calibrate_with_labelled_examples_embeds_them_once() -> None:
    directions = {**DIRECTIONS, "q1": 0, "q2": 90}
    slm = EmbeddingSLM(directions, answer="a1")
    llm = ScriptedModel(lambda _: "a1", name="llm", kind="remote", cost_per_token_usd=0.001)
    calibration = router.calibrate(
        [("q1", "a1"), ("q2", "a1")], slm=slm, llm=llm, router=LABELLED, keep=1.0
    )
    assert slm.embedded == [["e1", "e2", "e3", "h1", "h2"], ["q1"], ["q2"]]
    assert calibration.threshold == 0.0  # the SLM is always right here: never route away


def test_label_examples_marks_what_the_slm_gets_right() -> None:
    slm, _ = qa_models()
    labelled = router.label_examples([("q1", "a1"), ("q3", "a3")], slm=slm, metric="exact")
    assert labelled == [("q1", True), ("q3", False)]
