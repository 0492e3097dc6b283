"""No way past a budget: bad ``max_tokens``, missing usage, empty choices (issue 12)."""

from __future__ import annotations

import pytest
from fault_server import FaultServer

import collab
from collab import Budget, BudgetExceeded, RemoteModel, Run, ScriptedModel
from collab.errors import UserError
from collab.models.local_generation import check_sampling

BAD_MAX_TOKENS = [0, -1, -1e6, 1.5, 16.0, True, "16", None, 10**12]


def costed(*, rate: float = 0.000001) -> ScriptedModel:
    return ScriptedModel(lambda _: "one two three", kind="remote", cost_per_token_usd=rate)


@pytest.mark.parametrize("max_tokens", BAD_MAX_TOKENS)
def test_a_bad_max_tokens_is_refused_at_the_seam_and_nothing_is_spent(max_tokens: object) -> None:
    model = costed()
    llm = collab.metered(model)
    with Run(budget=Budget(usd=0.00005)) as run:
        for call in (llm.complete, llm.stream, llm.astream):
            with pytest.raises(UserError, match="max_tokens"):
                call("hi there", max_tokens=max_tokens)  # type: ignore[arg-type]
    assert model.calls == []  # never reached the model
    assert run.meter.spent()["usd"] == 0 and run.meter.reserved()["usd"] == 0
    assert len(run.ledger) == 0


@pytest.mark.parametrize("max_tokens", BAD_MAX_TOKENS)
def test_backends_refuse_a_bad_max_tokens_themselves(max_tokens: object) -> None:
    scripted = costed()
    with pytest.raises(UserError, match="max_tokens"):
        scripted.complete("hi", max_tokens=max_tokens)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="max_tokens"):
        scripted.stream("hi", max_tokens=max_tokens)  # type: ignore[arg-type]
    assert scripted.calls == []
    with pytest.raises(UserError, match="max_tokens"):
        check_sampling(max_tokens, 0.0, None)  # type: ignore[arg-type]  (LocalModel's check)
    with FaultServer() as server:
        remote = RemoteModel("openai/fake", api_base=server.api_base, api_key="k", max_retries=0)
        for call in (remote.complete, remote.stream):
            with pytest.raises(UserError, match="max_tokens"):
                call("hi", max_tokens=max_tokens)  # type: ignore[arg-type]
        assert server.requests == []  # never sent


async def test_async_backends_refuse_a_bad_max_tokens() -> None:
    with FaultServer() as server:
        remote = RemoteModel("openai/fake", api_base=server.api_base, api_key="k", max_retries=0)
        with pytest.raises(UserError, match="max_tokens"):
            await remote.acomplete("hi", max_tokens=0)
        with pytest.raises(UserError, match="max_tokens"):
            remote.astream("hi", max_tokens=-5)
        assert server.requests == []
    with pytest.raises(UserError, match="max_tokens"):
        await costed().acomplete("hi", max_tokens=-1)


def test_a_negative_max_tokens_cannot_let_a_call_through_a_small_token_budget() -> None:
    model = ScriptedModel(lambda _: " ".join(["w"] * 30), kind="remote", cost_per_token_usd=1e-6)
    llm = collab.metered(model)
    with Run(budget=Budget(remote_tokens=10)) as run:
        with pytest.raises(UserError, match="max_tokens"):
            llm.complete("hi", max_tokens=-997)
        with pytest.raises(BudgetExceeded):
            llm.complete("hi", max_tokens=30)
    assert model.calls == []
    assert run.meter.spent()["remote_tokens"] == 0


def test_the_meter_refuses_a_negative_reservation() -> None:
    with Run(budget=Budget(remote_tokens=10)) as run:
        for bad in (-997, -1.0, 2.5):
            with pytest.raises(UserError, match="max_tokens"):
                run.meter.reserve(costed(), prompt_tokens=1, max_tokens=bad)  # type: ignore[arg-type]
        with pytest.raises(UserError, match="prompt tokens"):
            run.meter.reserve(costed(), prompt_tokens=-50, max_tokens=5)
    assert run.meter.reserved()["remote_tokens"] == 0


def test_scoring_still_reserves_no_output_tokens() -> None:
    llm = collab.metered(ScriptedModel(["x"], kind="local"))
    with Run(budget=Budget(local_tokens=100)) as run:
        assert llm.score("pick one", ["a", "b"]) == [0.5, 0.5]
    assert run.ledger.records[0].completion_tokens == 0
