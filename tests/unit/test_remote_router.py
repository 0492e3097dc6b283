"""RemoteModel on LiteLLM's Router: each call priced and metered at the deployment that
answered; a dead deployment is retried elsewhere by the Router and never charged."""

from __future__ import annotations

import pytest

import collab
from collab import Budget, Deployment, ModelPrice, RemoteModel, RouterOptions, Run, UserError
from collab.litellm_import import import_litellm

CHEAP = ModelPrice(input_per_mtok_usd=1.0, output_per_mtok_usd=2.0)
DEAR = ModelPrice(input_per_mtok_usd=10.0, output_per_mtok_usd=20.0)
DEAD = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: connection refused


def deployment(name: str, price: ModelPrice, reply: str | None = None) -> Deployment:
    extra = {"mock_response": reply} if reply is not None else {}
    return Deployment(
        "openai/m", api_base=DEAD, api_key="sk-secret-" + name, name=name, prices=price, extra=extra
    )


def test_each_call_is_priced_at_the_deployment_that_answered() -> None:
    llm = RemoteModel.from_deployments(
        [deployment("a", CHEAP, "from a"), deployment("b", DEAR, "from b")],
        options=RouterOptions(num_retries=0),
    )
    with Run() as run:
        metered = run.wrap(llm)
        completions = [metered.complete(f"question {i}", max_tokens=8) for i in range(12)]
    by = {c.model for c in completions}
    assert by == {"a", "b"}  # simple-shuffle used both
    for completion, record in zip(completions, run.ledger.records, strict=True):
        assert completion.text == f"from {completion.model}"
        price = CHEAP if completion.model == "a" else DEAR
        usage = completion.usage
        expected = price.cost_usd(usage.prompt_tokens, usage.completion_tokens)
        assert record.model == completion.model
        assert record.cost_usd == pytest.approx(expected)


def test_a_dead_deployment_is_retried_on_another_and_never_charged() -> None:
    llm = RemoteModel.from_deployments(
        [deployment("dead", DEAR), deployment("alive", CHEAP, "ok")],
        options=RouterOptions(num_retries=2, allowed_fails=1, cooldown_time_s=60),
        timeout_s=5,
    )
    with Run() as run:
        metered = run.wrap(llm)
        completions = [metered.complete(f"q{i}", max_tokens=8) for i in range(6)]
    assert {c.model for c in completions} == {"alive"}
    assert [r.outcome for r in run.ledger.records] == ["ok"] * 6
    assert run.ledger.total().cost_usd == pytest.approx(
        sum(CHEAP.cost_usd(c.usage.prompt_tokens, c.usage.completion_tokens) for c in completions)
    )


def test_a_budget_reserves_the_dearest_deployment() -> None:
    llm = RemoteModel.from_deployments(
        [deployment("a", CHEAP, "x"), deployment("b", DEAR, "x")],
        options=RouterOptions(num_retries=0),
    )
    dear_worst = DEAR.cost_usd(1_000, 100)
    budget = Budget(usd=dear_worst / 10, policy="raise")  # fits the cheap one's worst case
    with Run(budget=budget) as run, pytest.raises(collab.BudgetExceeded, match="needs up to"):
        run.wrap(llm).complete("hi " * 200, max_tokens=100)


def test_a_router_built_by_the_user() -> None:
    router = import_litellm().Router(
        model_list=[
            {
                "model_name": name,
                "litellm_params": {"model": "openai/m", "api_base": DEAD, "mock_response": name},
                "model_info": {"id": f"{name}-1"},
            }
            for name in ("small", "big")
        ],
        num_retries=0,
    )
    with pytest.raises(UserError, match="serves 2 model groups"):
        RemoteModel(router)
    with pytest.raises(UserError, match="no model group 'huge'"):
        RemoteModel(router, group="huge")
    with pytest.raises(UserError, match="does not have: \\['nope'\\]"):
        RemoteModel(router, group="big", deployment_prices={"nope": CHEAP})
    big = RemoteModel(router, group="big", deployment_prices={"big-1": DEAR})
    done = big.complete("hi", max_tokens=4)
    assert (done.text, done.model, big.max_retries) == ("big", "big-1", 0)
    assert done.cost_usd == pytest.approx(
        DEAR.cost_usd(done.usage.prompt_tokens, done.usage.completion_tokens)
    )


def test_deployment_keys_never_show() -> None:
    llm = RemoteModel.from_deployments([deployment("a", CHEAP, "x")])
    assert "sk-secret" not in repr(llm) and "sk-secret" not in repr(llm.deployments)
    assert "deployments=['a']" in repr(llm)


def test_deployment_names_must_differ() -> None:
    with pytest.raises(UserError, match="must differ"):
        RemoteModel.from_deployments([deployment("a", CHEAP), deployment("a", DEAR)])


def test_a_stream_names_and_prices_the_deployment_that_answered() -> None:
    llm = RemoteModel.from_deployments(
        [deployment("a", CHEAP, "streamed from a")], options=RouterOptions(num_retries=0)
    )
    with Run() as run:
        stream = run.wrap(llm).stream("hi", max_tokens=8)
        text = "".join(stream)
    assert text == "streamed from a"
    [record] = run.ledger.records
    assert record.model == "a"
    assert record.cost_usd == pytest.approx(
        CHEAP.cost_usd(record.prompt_tokens, record.completion_tokens)
    )


async def test_async_calls_go_through_the_router_too() -> None:
    llm = RemoteModel.from_deployments(
        [deployment("a", CHEAP, "async a"), deployment("b", DEAR, "async b")],
        options=RouterOptions(num_retries=0),
    )
    done = [await llm.acomplete(f"q{i}", max_tokens=8) for i in range(6)]
    assert {d.text for d in done} == {f"async {d.model}" for d in done}
    assert all(d.model in ("a", "b") for d in done)
