"""ScriptedModel: the fake every unit test relies on must behave like a real model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from collab import InvalidOutputError, Message, SchemaError, ScriptedModel
from collab.models.base import Model


class City(BaseModel):
    name: str
    country: str


def test_replies_in_order_with_word_usage_and_price() -> None:
    model = ScriptedModel(["Paris is the capital", "two"], cost_per_token_usd=0.5)
    first = model.complete("capital of France?")
    second = model.complete([Message(role="user", content="one plus one")])
    assert [first.text, second.text] == ["Paris is the capital", "two"]
    assert first.usage.prompt_tokens == 3 and first.usage.completion_tokens == 4
    assert first.cost_usd == pytest.approx(3.5)
    assert [m[0].content for m in model.calls] == ["capital of France?", "one plus one"]


def test_running_out_of_replies_says_how_many_were_scripted() -> None:
    model = ScriptedModel(["only"])
    model.complete("a")
    with pytest.raises(IndexError, match="1 scripted replies and was called 2 times"):
        model.complete("b")


def test_scripted_exception_is_raised_for_that_call() -> None:
    model = ScriptedModel([TimeoutError("slow"), "ok"])
    with pytest.raises(TimeoutError):
        model.complete("x")
    assert model.complete("x").text == "ok"


def test_function_replies_see_the_messages() -> None:
    model = ScriptedModel(lambda messages: messages[-1].content.upper())
    assert model.complete("shout").text == "SHOUT"


def test_schema_validates_into_parsed() -> None:
    model = ScriptedModel(['{"name": "Paris", "country": "France"}'])
    done = model.complete("city?", schema=City)
    assert done.parsed == City(name="Paris", country="France")


def test_invalid_json_keeps_the_text() -> None:
    model = ScriptedModel(['{"name": "Paris"'])
    with pytest.raises(InvalidOutputError) as info:
        model.complete("city?", schema=City)
    assert info.value.text == '{"name": "Paris"'
    assert "not valid JSON" in info.value.message


def test_json_that_misses_a_field_names_it() -> None:
    model = ScriptedModel(['{"name": "Paris"}'])
    with pytest.raises(InvalidOutputError, match="country"):
        model.complete("city?", schema=City)


def test_bad_schema_is_a_schema_error() -> None:
    with pytest.raises(SchemaError):
        ScriptedModel(["{}"]).complete("x", schema={"properties": {}})
    with pytest.raises(SchemaError):
        ScriptedModel(["{}"]).complete("x", schema=int)  # type: ignore[arg-type]


def test_stream_deltas_concatenate_and_finish_with_usage() -> None:
    model = ScriptedModel(["the quick brown fox"])
    stream = model.stream("go")
    assert "".join(stream) == "the quick brown fox"
    assert stream.completion is not None
    assert stream.completion.usage.completion_tokens == 4


async def test_async_complete_and_stream() -> None:
    model = ScriptedModel(["a b", "c d"])
    assert (await model.acomplete("x")).text == "a b"
    stream = model.astream("y")
    assert "".join([d async for d in stream]) == "c d"
    assert stream.completion is not None and stream.completion.text == "c d"


def test_score_normalises_and_defaults_to_uniform() -> None:
    assert ScriptedModel([]).score("q", ["a", "b", "c", "d"]) == [0.25] * 4
    scored = ScriptedModel([], scores=lambda p, o: [3.0, 1.0]).score("q", ["yes", "no"])
    assert scored == [0.75, 0.25]


def test_scripted_model_satisfies_the_model_protocol() -> None:
    assert isinstance(ScriptedModel([]), Model)


def test_embed_exists_only_with_scripted_embeddings_and_records_its_texts() -> None:
    assert not hasattr(ScriptedModel([]), "embed")
    model = ScriptedModel([], embeddings=lambda text: [float(len(text)), 1.0])
    assert model.embed(["ab", "abc"]) == [[2.0, 1.0], [3.0, 1.0]]
    assert model.embedded == ["ab", "abc"]
