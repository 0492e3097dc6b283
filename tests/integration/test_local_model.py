"""LocalModel on the real SmolLM2-135M-Instruct through llama.cpp."""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from collab.errors import (
    InvalidOutputError,
    ModelFileCorruptError,
    ModelFileMissingError,
    UserError,
)
from collab.models.base import Model
from collab.models.local import LocalModel
from collab.models.local_scoring import softmax

pytestmark = pytest.mark.integration

QUESTION = "Name three colors."


class City(BaseModel):
    name: str
    country: str


def test_completion_has_text_usage_and_is_greedy_deterministic(smollm2: LocalModel) -> None:
    first = smollm2.complete(QUESTION, max_tokens=24)
    again = smollm2.complete([{"role": "user", "content": QUESTION}], max_tokens=24)
    assert first.text.strip()
    assert again.text == first.text  # greedy, and a string is one user message
    assert first.usage.prompt_tokens > smollm2.count_tokens(QUESTION)  # the template's tokens
    assert 0 < first.usage.completion_tokens <= 24
    assert (first.kind, first.model, first.cost_usd) == ("local", smollm2.name, 0.0)
    assert first.finish_reason in {"stop", "length"}
    assert first.latency_s > 0


def test_sampling_varies_between_calls_and_replays_from_the_seed(smollm2: LocalModel) -> None:
    def samples(model: LocalModel) -> list[str]:
        return [
            model.complete("Tell me a joke.", max_tokens=12, temperature=1.0).text for _ in "ab"
        ]

    with (
        LocalModel(smollm2.path, n_ctx=512, seed=7) as one,
        LocalModel(smollm2.path, n_ctx=512, seed=7) as other,
    ):
        first = samples(one)
        assert first[0] != first[1]  # a fresh seed per call, not the same sample twice
        assert samples(other) == first  # the same seed replays the same run


def test_local_model_is_a_model(smollm2: LocalModel) -> None:
    assert isinstance(smollm2, Model)
    assert smollm2.kind == "local"
    assert smollm2.chat_format in {"gguf", "chatml"}  # SmolLM2 speaks ChatML


def test_raw_text_completion_skips_the_chat_template(smollm2: LocalModel) -> None:
    prompt = "One, two, three, four,"
    raw = smollm2.complete_text(prompt, max_tokens=6)
    assert raw.usage.prompt_tokens == smollm2.count_tokens(prompt)
    assert "five" in raw.text.lower()


def test_schema_output_is_constrained_and_validated(smollm2: LocalModel) -> None:
    result = smollm2.complete(
        "Give the capital city of France and its country as JSON.", schema=City, max_tokens=60
    )
    assert isinstance(result.parsed, City)
    assert result.parsed.name and result.parsed.country
    as_dict = smollm2.complete(
        "Is water wet? Answer in JSON.",
        schema={"type": "object", "properties": {"wet": {"type": "boolean"}}, "required": ["wet"]},
        max_tokens=30,
    )
    assert isinstance(as_dict.parsed["wet"], bool)


def test_schema_output_cut_off_by_max_tokens_keeps_the_text(smollm2: LocalModel) -> None:
    with pytest.raises(InvalidOutputError, match="max_tokens=4") as info:
        smollm2.complete("Describe Paris as JSON.", schema=City, max_tokens=4)
    assert info.value.text.lstrip().startswith("{")
    assert "max_tokens" in info.value.hint


@pytest.mark.parametrize(
    ("prompt", "options", "right"),
    [
        ("What is the capital of France?", ["Paris", "London"], "Paris"),
        ("What is the capital of England?", ["Paris", "London"], "London"),
        ("Which city is the capital of France?", ["London", "Paris"], "Paris"),
        ("What color is the sky on a clear day?", ["Blue", "Green"], "Blue"),
        ("What color is grass?", ["Blue", "Green"], "Green"),
    ],
)
def test_score_sums_to_one_and_prefers_the_right_option(
    smollm2: LocalModel, prompt: str, options: list[str], right: str
) -> None:
    probs = smollm2.score(prompt, options)
    assert math.fsum(probs) == pytest.approx(1.0)
    assert options[probs.index(max(probs))] == right


def test_score_matches_a_full_evaluation_of_each_option(smollm2: LocalModel) -> None:
    from llama_cpp import Llama

    prompt, options = "What is the capital of France?", ["Paris", "The capital is Paris.", "Rome"]
    detailed = smollm2.score_detailed(prompt, options)
    assert list(detailed.probs) == pytest.approx(softmax(detailed.logprobs))
    reordered = smollm2.score_detailed(prompt, options[::-1])
    assert reordered.logprobs[::-1] == pytest.approx(detailed.logprobs, abs=1e-4)

    # Reference: a separate context that keeps every position's logits, one full pass per option.
    text, add_bos, _ = smollm2._prompt_text(prompt)
    reference = Llama(str(smollm2.path), n_ctx=256, logits_all=True, verbose=False)
    try:
        for option, logprob, n_scored in zip(
            options, detailed.logprobs, detailed.n_tokens, strict=True
        ):
            tokens = reference.tokenize((text + option).encode(), add_bos=add_bos, special=True)
            reference.reset()
            reference.eval(tokens)
            rows = reference.scores[: len(tokens)].astype(np.float64)
            log_norm = rows.max(1) + np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1))
            start = len(tokens) - n_scored
            expected = sum(
                rows[i - 1, tokens[i]] - log_norm[i - 1] for i in range(start, len(tokens))
            )
            assert logprob == pytest.approx(expected, abs=2e-3)
    finally:
        reference.close()


def test_stream_deltas_join_to_the_greedy_completion(smollm2: LocalModel) -> None:
    whole = smollm2.complete(QUESTION, max_tokens=24)
    stream = smollm2.stream(QUESTION, max_tokens=24)
    deltas = list(stream)
    assert len(deltas) > 1
    assert "".join(deltas) == whole.text
    assert stream.completion is not None
    assert stream.completion.usage == whole.usage
    assert stream.completion.finish_reason == whole.finish_reason


def test_stream_and_complete_agree_on_stop_strings(smollm2: LocalModel) -> None:
    whole = smollm2.complete(QUESTION, max_tokens=24).text
    stop = whole.split()[len(whole.split()) // 2]  # a word from the middle of the reply
    cut = smollm2.complete(QUESTION, max_tokens=24, stop=[stop])
    stream = smollm2.stream(QUESTION, max_tokens=24, stop=[stop])
    assert "".join(stream) == cut.text == whole[: whole.index(stop)]
    assert stream.completion is not None
    assert stream.completion.finish_reason == cut.finish_reason == "stop"


async def test_async_stream_matches_the_sync_one(smollm2: LocalModel) -> None:
    whole = await smollm2.acomplete(QUESTION, max_tokens=16)
    stream = smollm2.astream(QUESTION, max_tokens=16)
    assert "".join([delta async for delta in stream]) == whole.text
    assert stream.completion is not None
    assert stream.completion.usage.completion_tokens == whole.usage.completion_tokens


def test_concurrent_threads_and_tasks_get_their_own_answers(smollm2: LocalModel) -> None:
    prompts = [f"Write one sentence about the number {n}." for n in range(8)]
    expected = [smollm2.complete(p, max_tokens=12).text for p in prompts]
    assert len(set(expected)) > 1  # distinct answers, so a mix-up would show
    scored = smollm2.score("What color is grass?", ["Blue", "Green"])

    def in_thread(i: int) -> str:
        if i == 3:  # one thread streams while the others complete
            return "".join(smollm2.stream(prompts[i], max_tokens=12))
        return smollm2.complete(prompts[i], max_tokens=12).text

    async def in_task(i: int) -> str:
        if i == 7:
            return "".join([d async for d in smollm2.astream(prompts[i], max_tokens=12)])
        return (await smollm2.acomplete(prompts[i], max_tokens=12)).text

    async def main() -> tuple[list[str], list[float]]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=5) as pool:
            threads = [loop.run_in_executor(pool, in_thread, i) for i in range(4)]
            scoring = loop.run_in_executor(
                pool, smollm2.score, "What color is grass?", ["Blue", "Green"]
            )
            tasks = [in_task(i) for i in range(4, 8)]
            texts = await asyncio.gather(*threads, *tasks)
            return list(texts), await scoring

    texts, concurrent_scores = asyncio.run(main())
    assert texts == expected
    assert concurrent_scores == pytest.approx(scored, abs=1e-6)


def test_embeddings_are_normalised_and_meaningful(smollm2: LocalModel) -> None:
    vectors = np.array(
        smollm2.embed(["A cat sleeps on the mat.", "A kitten naps on a rug.", "Bond yields rose."])
    )
    assert vectors.shape[0] == 3 and vectors.shape[1] > 100
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated
    assert smollm2.embed(["A cat sleeps on the mat."])[0] == pytest.approx(vectors[0], abs=1e-5)


def test_token_counts(smollm2: LocalModel) -> None:
    short, longer = "hello world", "hello world, and hello again to everyone here"
    assert smollm2.count_tokens(short) == len(smollm2.tokenize(short)) > 0
    assert smollm2.count_tokens(longer) > smollm2.count_tokens(short)


def test_prompt_longer_than_the_context_is_a_user_error(smollm2: LocalModel) -> None:
    with pytest.raises(UserError, match="does not fit"):
        smollm2.complete("word " * (smollm2.n_ctx + 10), max_tokens=4)


def test_truncated_gguf_raises_corrupt_error(smollm2: LocalModel, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with smollm2.path.open("rb") as source, truncated.open("wb") as target:
        target.write(source.read(2_000_000))
    with pytest.raises(ModelFileCorruptError):
        LocalModel(truncated)
    with pytest.raises(ModelFileMissingError):
        LocalModel(tmp_path / "absent.gguf")


def test_closed_model_refuses_calls(smollm2: LocalModel) -> None:
    with LocalModel(smollm2.path, n_ctx=512) as model:
        assert model.name == smollm2.path.stem
        assert repr(model) == f"LocalModel({model.name!r}, n_ctx=512)"
        assert model.complete("Hi", max_tokens=2).usage.completion_tokens > 0
    with pytest.raises(UserError, match="closed"):
        model.complete("Hi", max_tokens=2)
