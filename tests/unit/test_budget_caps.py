"""No way past a budget: bad ``max_tokens``, missing usage, empty choices (issue 12)."""

from __future__ import annotations

import io

import pytest
from fault_server import FaultServer, Reply

import collab
from collab import Budget, BudgetExceeded, Ledger, ModelPrice, RemoteModel, Run, ScriptedModel
from collab.errors import RemoteAPIError, UserError
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


def priced_remote(server: FaultServer) -> RemoteModel:
    return RemoteModel(
        "openai/fake",
        api_base=server.api_base,
        api_key="k",
        max_retries=0,
        prices=ModelPrice(input_per_mtok_usd=100.0, output_per_mtok_usd=200.0),
    )


def test_answers_without_usage_are_estimated_flagged_and_stop_at_the_cap() -> None:
    text = "one two three four five six seven eight"
    with FaultServer(default=Reply(content=text, usage=False)) as server:
        model = priced_remote(server)
        llm = collab.metered(model)
        made = 0
        with Run(budget=Budget(usd=0.5, remote_tokens=300)) as run, pytest.raises(BudgetExceeded):
            for _ in range(100):
                llm.complete("please answer the question", max_tokens=16)
                made += 1
        assert len(server.requests) == made < 100  # stopped once the estimates crossed the cap
    ok = [r for r in run.ledger.records if r.outcome == "ok"]
    assert len(ok) == made >= 2
    prompt = model.count_prompt_tokens("please answer the question")
    for record in ok:
        assert record.usage_estimated
        assert record.prompt_tokens == prompt
        assert record.completion_tokens == model.count_tokens(text)
        assert record.cost_usd is not None and record.cost_usd > 0
    assert 0 < run.meter.spent()["remote_tokens"] <= 300
    assert '"usage_estimated":true' in run.ledger.to_json()
    assert run.ledger.total().estimated == made
    assert f"{made} estimated" in _rendered(run.ledger)


def test_reported_usage_is_not_flagged() -> None:
    with FaultServer(default=Reply(prompt_tokens=9)) as server, Run() as run:
        completion = collab.metered(priced_remote(server)).complete("hi", max_tokens=16)
    assert completion.usage.prompt_tokens == 9 and not completion.usage.estimated
    assert not run.ledger.records[0].usage_estimated


def test_a_stream_without_usage_is_never_free() -> None:
    # LiteLLM counts a stream's usage itself when the provider sends none (not flagged then).
    with FaultServer(default=Reply(content="a b c", stream_usage=False)) as server, Run() as run:
        stream = collab.metered(priced_remote(server)).stream("hi", max_tokens=16)
        assert "".join(stream) == "a b c"
    record = run.ledger.records[0]
    assert record.prompt_tokens > 0 and record.completion_tokens > 0 and record.cost_usd


@pytest.mark.parametrize("usage", [True, False])
def test_empty_choices_raise_a_clear_error_and_the_meter_settles_what_was_billed(
    usage: bool,
) -> None:
    reply = Reply(fault="empty_choices", prompt_tokens=7, completion_tokens=3, usage=usage)
    with FaultServer([reply]) as server:
        model = priced_remote(server)
        with Run(budget=Budget(usd=0.5)) as run, pytest.raises(RemoteAPIError, match="no choices"):
            collab.metered(model).complete("hi there", max_tokens=16)
    (record,) = run.ledger.records
    assert record.outcome == "error" and "no choices" in (record.error or "")
    expected = (7, 3) if usage else (model.count_prompt_tokens("hi there"), 0)
    assert (record.prompt_tokens, record.completion_tokens) == expected
    assert record.usage_estimated is not usage
    assert record.cost_usd is not None and record.cost_usd > 0
    assert run.meter.spent()["usd"] == pytest.approx(record.cost_usd)
    assert run.meter.reserved()["usd"] == 0


def _rendered(ledger: Ledger) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(ledger.rich_table())
    return console.export_text()
