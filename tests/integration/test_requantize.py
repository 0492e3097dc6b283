"""Requantizing the shipped SmolLM2 into another weight format, with llama.cpp's quantizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from collab import LocalModel
from collab.errors import UserError
from collab.models.gguf_file import check_gguf
from collab.models.requantize import requantize

pytestmark = pytest.mark.integration


def test_requantized_model_loads_generates_and_is_reused(
    smollm2: LocalModel, tmp_path: Path
) -> None:
    target = tmp_path / "smollm2.q8_0.gguf"
    out = requantize(smollm2.path, target, format="q8_0")
    assert out == target and check_gguf(out).tensor_count > 0
    assert out.stat().st_size > smollm2.path.stat().st_size  # 8 bits a weight, not 4
    assert not list(tmp_path.glob("*.partial"))
    stamp = out.stat().st_mtime_ns
    assert requantize(smollm2.path, target, format="q8_0").stat().st_mtime_ns == stamp
    model = LocalModel(out, n_ctx=512)
    try:
        answer = model.complete("List the days of the week.", max_tokens=24)
        assert "Monday" in answer.text and "Tuesday" in answer.text
    finally:
        model.close()


def test_unknown_format_names_the_choices(smollm2: LocalModel, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown weight format 'q3'") as caught:
        requantize(smollm2.path, tmp_path / "x.gguf", format="q3")
    assert "q4_0" in caught.value.hint and not (tmp_path / "x.gguf").exists()


def test_the_reported_chat_format_is_accepted_back(smollm2: LocalModel, tmp_path: Path) -> None:
    """``LocalModel.chat_format`` says "gguf" for a file's own template; passing it back
    renders chats the same way, and a file without a template is refused clearly."""
    from collab.models.catalog import model_path

    copy = LocalModel(smollm2.path, n_ctx=512, chat_format=smollm2.chat_format)
    try:
        prompt = "List the days of the week."
        assert copy.chat_format == smollm2.chat_format
        assert copy.prompt_tokens(prompt) == smollm2.prompt_tokens(prompt)
    finally:
        copy.close()
    gemma = model_path("gemma3-270m", pull=False)
    if gemma.is_file():
        with pytest.raises(UserError, match="needs a chat template") as caught:
            LocalModel(gemma, n_ctx=256, chat_format="gguf")
        assert "chatml" in caught.value.hint
