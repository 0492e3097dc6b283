"""The embedded server's settings, without starting it: prompt-lookup decoding on request."""

from __future__ import annotations

import pytest

from collab.errors import UserError
from collab.models.server import EmbeddedServer
from collab.models.server_child import model_settings

CONFIG = {"model": "m.gguf", "alias": "m", "chat_format": None, "n_ctx": 512, "n_threads": 2}


def test_prompt_lookup_reaches_llama_cpp_python_as_its_draft_model() -> None:
    settings = model_settings({**CONFIG, "prompt_lookup": 7})
    assert settings.draft_model == "prompt-lookup-decoding"
    assert settings.draft_model_num_pred_tokens == 7


def test_without_prompt_lookup_the_server_decodes_plainly() -> None:
    assert model_settings(CONFIG).draft_model is None
    assert model_settings({**CONFIG, "prompt_lookup": 0}).draft_model is None


@pytest.mark.parametrize("value", [-1, 65, True, 2.5])
def test_a_bad_prompt_lookup_is_refused_with_the_range(value: object) -> None:
    with pytest.raises(UserError, match=r"prompt_lookup must be an integer from 0 \(off\) to 64"):
        EmbeddedServer("m.gguf", prompt_lookup=value)  # type: ignore[arg-type]
