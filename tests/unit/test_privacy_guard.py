"""collab.privacy.PrivacyGuard: the wrapped model sees placeholders; replies come back restored."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from collab import Run, ScriptedModel
from collab.budget.metered import metered
from collab.models.base import Model
from collab.privacy import PrivacyGuard, find_names
from collab.types import Message

PROMPT = "Tell ada@example.com that card 4111 1111 1111 1111 is blocked."


def echo_llm(reply: str = "Dear <EMAIL_1>, your card <CARD_1> is blocked.") -> ScriptedModel:
    return ScriptedModel(lambda _: reply, name="llm", kind="remote", cost_per_token_usd=0.001)


def test_the_model_sees_placeholders_and_the_reply_is_restored() -> None:
    llm = echo_llm()
    guard = PrivacyGuard(llm)
    assert isinstance(guard, Model) and guard.name == "llm" and guard.kind == "remote"
    done = guard.complete(PROMPT)
    assert llm.calls[0][0].content == "Tell <EMAIL_1> that card <CARD_1> is blocked."
    assert done.text == "Dear ada@example.com, your card 4111 1111 1111 1111 is blocked."
    assert done.redactions == {"EMAIL": 1, "CARD": 1}
    assert done.usage.prompt_tokens == len(llm.calls[0][0].content.split())


def test_the_ledger_records_types_and_counts_never_values() -> None:
    with Run() as run:
        metered(PrivacyGuard(echo_llm())).complete(PROMPT)
    [record] = run.ledger.records
    assert record.redactions == {"EMAIL": 1, "CARD": 1} and record.kind == "remote"
    assert "ada@example.com" not in record.model_dump_json()
    assert record.cost_usd > 0


def test_a_streamed_reply_is_restored_even_when_a_placeholder_is_split() -> None:
    llm = echo_llm("Mail <EMAIL_1> now, <EMAIL_1>!")
    stream = PrivacyGuard(llm).stream(PROMPT)
    deltas = list(stream)
    assert "".join(deltas) == "Mail ada@example.com now, ada@example.com!"
    assert all("<" not in d for d in deltas)
    assert stream.completion is not None and stream.completion.redactions == {"EMAIL": 1, "CARD": 1}


def test_split_placeholders_are_held_back_until_whole() -> None:
    from collab.privacy import _restoring

    values = {"<EMAIL_1>": "a@b.io"}
    out = list(_restoring(iter(["to <EM", "AIL_", "1> and 3 < 4"]), values))
    assert "".join(out) == "to a@b.io and 3 < 4" and out[0] == "to "


def test_async_complete_and_stream() -> None:
    async def both() -> tuple[str, str]:
        guard = PrivacyGuard(echo_llm("ok <EMAIL_1>"))
        done = await guard.acomplete(PROMPT)
        text = "".join([d async for d in guard.astream(PROMPT)])
        return done.text, text

    assert asyncio.run(both()) == ("ok ada@example.com", "ok ada@example.com")


@pytest.mark.parametrize(
    ("reply", "text", "names"),
    [
        ("- Ada Lovelace\n- Charles Babbage\nNONE", "Ada Lovelace wrote notes.", ["Ada Lovelace"]),
        (
            "Ada Lovelace and Charles Babbage\n\nHope this helps!",
            "Ask Ada Lovelace and Charles Babbage.",
            ["Ada Lovelace", "Charles Babbage"],
        ),
        (
            "Maria Garcia confirming we emailed her.",
            "Tell Maria Garcia confirming we emailed her.",
            ["Maria Garcia"],
        ),
        ("1. John Smith\n2. Jane", "John Smith met Jane and Janet.", ["John Smith", "Jane"]),
        ("NONE", "No one here.", []),
        ("Al", "Alice came.", []),  # not a whole word of the text
    ],
)
def test_find_names_reads_a_small_models_list_leniently_and_keeps_only_real_names(
    reply: str, text: str, names: list[str]
) -> None:
    assert find_names(ScriptedModel([reply]), text) == names


def test_the_slm_names_are_hidden_from_the_wrapped_model() -> None:
    llm = echo_llm("Hi <NAME_1>")
    names = ScriptedModel(lambda _: "Ada Lovelace", name="slm", kind="local")
    done = PrivacyGuard(llm, names=names).complete("Greet Ada Lovelace.")
    assert llm.calls[0][0].content == "Greet <NAME_1>." and done.text == "Hi Ada Lovelace"
    assert done.redactions == {"NAME": 1}


def test_a_schema_call_is_validated_on_the_placeholder_text_and_the_text_restored() -> None:
    class Reply(BaseModel):
        to: str

    llm = echo_llm('{"to": "<EMAIL_1>"}')
    done = PrivacyGuard(llm).complete(PROMPT, schema=Reply)
    assert done.text == '{"to": "ada@example.com"}' and done.parsed == Reply(to="<EMAIL_1>")


def test_a_prompt_with_nothing_personal_goes_through_unchanged() -> None:
    llm = echo_llm("4")
    done = PrivacyGuard(llm).complete([Message(role="user", content="What is 2 + 2?")])
    assert llm.calls[0][0].content == "What is 2 + 2?" and done.redactions == {}


def test_the_guard_is_priced_as_its_model_and_offers_no_unguarded_calls() -> None:
    llm = ScriptedModel([], name="llm", kind="remote", cost_per_token_usd=0.5)
    llm.score = lambda prompt, options: [1.0]  # type: ignore[attr-defined]
    guard = PrivacyGuard(llm)
    assert guard.cost_per_token_usd == 0.5
    assert not hasattr(guard, "score") and not hasattr(guard, "embed")
