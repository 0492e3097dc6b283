"""Prompts that are not text or messages, or not valid Unicode, are clear PromptErrors."""

from __future__ import annotations

from typing import Any

import pytest
from fault_server import FaultServer

from collab.errors import PromptError, UserError
from collab.models.remote import RemoteModel
from collab.models.scripted import ScriptedModel
from collab.types import Message, normalize_messages

BAD_PROMPTS: dict[str, tuple[Any, str]] = {
    "lone surrogate": ("caf\udce9", r"not valid Unicode: surrogates not allowed at character 3"),
    "surrogate in a message": (
        [{"role": "user", "content": "ok"}, {"role": "user", "content": "\ud800"}],
        "message 1 is not valid Unicode",
    ),
    "surrogate in a Message": ([Message(role="user", content="\udfff")], "message 0"),
    "None": (None, "prompt must be a string or a list of messages, got NoneType"),
    "a number": (42, "got int"),
    "unknown role": ([{"role": "wizard", "content": "hi"}], "message 0 has role 'wizard'"),
    "no role": ([{"content": "hi"}], "message 0 has role None"),
    "content None": ([{"role": "user", "content": None}], "message 0 content must be a string"),
    "a bare string in a list": (["hi"], "message 0 must be a Message or a dict, got str"),
}


@pytest.mark.parametrize("case", BAD_PROMPTS)
def test_bad_prompts_are_prompt_errors_naming_the_problem(case: str) -> None:
    prompt, message = BAD_PROMPTS[case]
    with pytest.raises(PromptError, match=message.replace("(", r"\(")) as caught:
        normalize_messages(prompt)
    assert isinstance(caught.value, UserError) and caught.value.hint


@pytest.mark.parametrize("case", BAD_PROMPTS)
def test_models_raise_them_before_any_call(case: str) -> None:
    prompt, _ = BAD_PROMPTS[case]
    scripted = ScriptedModel(["never"])
    with pytest.raises(PromptError):
        scripted.complete(prompt)
    with FaultServer() as server:
        remote = RemoteModel("openai/fake", api_base=server.api_base, api_key="k")
        with pytest.raises(PromptError):
            remote.complete(prompt)
        with pytest.raises(PromptError):
            list(remote.stream(prompt))
    assert server.requests == []


def test_control_characters_and_astral_text_are_fine() -> None:
    text = "tab\there\x00nul \x1b[31m \U0001f600 \u202e"
    assert normalize_messages(text)[0].content == text
    assert ScriptedModel(["ok"]).complete(text).text == "ok"
