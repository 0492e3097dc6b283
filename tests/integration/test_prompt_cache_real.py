"""A prompt's greedy output does not depend on what the model's cache held before it.

On K-quant weights a token decoded alone and the same token decoded inside a prompt batch get
slightly different logits; ``collab.models.prompt_staging`` makes a cold prompt and a cached
one go through the same decodes. Checked on Qwen2.5-Coder-1.5B (Q4_K_M; the 0.5B showed no
difference on these prompts), plain and speculative.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collab.errors import CollabError
from collab.models.local import LocalModel
from collab.speculative import Speculative

pytestmark = pytest.mark.integration

QWEN = "qwen2.5-coder-1.5b-instruct"
PROMPTS = ["Tell me a story about a lighthouse keeper and a storm."]
"""Without staging, its cached runs departed from the cold one at token 28."""
OTHER = "Tell me a story about a baker and a dragon."


def _qwen(**kwargs: object) -> LocalModel:
    try:
        from collab.models.catalog import model_path

        if not model_path(QWEN, pull=False).is_file():
            raise FileNotFoundError(QWEN)
    except (CollabError, FileNotFoundError):
        pytest.skip(f"{QWEN} is not pulled: run `collab models pull {QWEN}`")
    return LocalModel(QWEN, n_threads=2, n_ctx=1024, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"speculative": Speculative()}],
    ids=["plain", "speculative"],
)
def test_greedy_output_is_the_same_cold_after_another_prompt_and_cached(
    kwargs: dict[str, object],
) -> None:
    with _qwen(**kwargs) as model:
        for prompt in PROMPTS:
            with model.hold() as llm:
                llm.reset()
            cold = model.complete(prompt, max_tokens=40).text
            model.complete(OTHER, max_tokens=8)  # shares the chat template's prefix
            after_other = model.complete(prompt, max_tokens=40).text
            cached = model.complete(prompt, max_tokens=40).text  # prompt and reply cached
            streamed = "".join(model.stream(prompt, max_tokens=40))
            assert after_other == cold and cached == cold and streamed == cold, prompt


def test_saved_prefix_states_skip_prefill_and_change_no_output() -> None:
    """Three long excerpts asked about twice each, out of order: with ``prefix_cache_mb`` the
    second round restores each excerpt's state instead of evaluating it again, and greedy
    output is the same as without saved states."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    excerpts = [readme[i * 2500 : (i + 1) * 2500] for i in range(3)]
    asked = [(e, q) for q in ("Name one command.", "What is it about?") for e in excerpts]

    def answers(model: LocalModel) -> list[str]:
        return [model.complete(f"Excerpt:\n{e}\n\nTask: {q}", max_tokens=12).text for e, q in asked]

    with LocalModel("smollm2-135m-instruct", n_threads=2, n_ctx=2048) as plain:
        expected = answers(plain)
    with LocalModel(
        "smollm2-135m-instruct", n_threads=2, n_ctx=2048, prefix_cache_mb=256
    ) as cached:
        assert answers(cached) == expected
        states = cached.prefix_states
        assert states is not None and states.restored == 3 and len(states) == 3
        assert states.tokens_skipped > 3 * 400  # each excerpt is over 500 tokens
