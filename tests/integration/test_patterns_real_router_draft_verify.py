"""patterns.router and patterns.draft_verify on the real models: SmolLM2 in-process as the
SLM, the embedded server over HTTP (through LiteLLM) as the LLM. Outputs are tiny, so the
asserts are about structure: who was called, what was metered, what the details say."""

from __future__ import annotations

import pytest
from collab.patterns.draft_verify import DraftVerifyConfig
from collab.patterns.router import RouterConfig

from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer
from collab.patterns import draft_verify, router

pytestmark = pytest.mark.integration

SHORT = {"slm_max_tokens": 12, "llm_max_tokens": 12}


def test_the_difficulty_router_scores_on_the_slm_and_the_llm_answers(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = embedded.remote_model()
    config = RouterConfig(threshold=1.0, **SHORT)  # p_easy < 1: always the LLM
    result = router.run("What is 17 multiplied by 23?", slm=smollm2, llm=llm, config=config)
    assert 0.0 < result.details["p_easy"] < 1.0
    assert (result.details["route"], result.escalated) == ("llm", True)
    assert result.answer and result.answered_by == llm.name
    route, answer = result.ledger.records
    assert (route.node, route.role, route.kind, route.completion_tokens) == (
        "route",
        "router",
        "local",
        0,
    )
    assert route.prompt_tokens > 0
    assert (answer.node, answer.kind, answer.model) == ("llm_answer", "remote", llm.name)
    assert 0 < answer.completion_tokens <= 12 and result.cost_usd > 0


def test_the_neighbour_router_embeds_on_the_slm_and_the_slm_answers(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    labelled = [
        ("What is the capital of Italy?", True),
        ("What is the capital of Spain?", True),
        ("What is 48 times 37?", False),
        ("What is the square root of 7921?", False),
    ]
    llm = embedded.remote_model()
    config = RouterConfig(k=1, threshold=0.5, **SHORT)
    result = router.run(
        "What is the capital of France?", slm=smollm2, llm=llm, router=labelled, config=config
    )
    # Its nearest labelled question is a capital the SLM got right.
    assert result.details == {
        "route": "slm",
        "p_easy": 1.0,
        "threshold": 0.5,
        "router": "neighbours",
    }
    assert result.answer and result.answered_by == smollm2.name and not result.escalated
    nodes = [(r.node, r.kind) for r in result.ledger.records]
    # The examples are embedded in one call, then the question: both in the route node.
    assert nodes == [("route", "local"), ("route", "local"), ("slm_answer", "local")]
    assert result.cost_usd == 0


def test_draft_verify_sends_the_draft_as_a_prediction_and_counts_tokens(
    smollm2: LocalModel, embedded: EmbeddedServer
) -> None:
    llm = embedded.remote_model()
    config = DraftVerifyConfig(draft_max_tokens=12, verify_max_tokens=12, predict=True)
    result = draft_verify.run("What is the capital of France?", slm=smollm2, llm=llm, config=config)
    details = result.details
    assert details["draft"] and result.answer
    # RemoteModel takes predictions; LiteLLM lets them through to the OpenAI-compatible server.
    assert details["predicted"] is True
    assert details["draft_tokens"] == llm.count_tokens(details["draft"]) > 0
    draft, verify = result.ledger.records
    assert (draft.node, draft.role, draft.kind) == ("draft", "drafter", "local")
    assert (verify.node, verify.role, verify.kind, verify.outcome) == (
        "verify",
        "verifier",
        "remote",
        "ok",
    )
    assert details["verifier_tokens"] == verify.completion_tokens > 0
    assert details["verdict"] in {"accepted", "corrected", "unverified"}
    if details["accepted"]:
        assert result.answer == details["draft"] and result.answered_by == smollm2.name
        assert details["llm_tokens_saved"] == details["draft_tokens"] - verify.completion_tokens
    else:
        assert details["llm_tokens_saved"] == 0
    assert not result.degraded and result.cost_usd > 0
