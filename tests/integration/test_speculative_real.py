"""Speculative decoding on the real SmolLM2 (and gemma-3-270m, when pulled): lossless greedy
output against llama-cpp-python's own decoding, llama.cpp's sampler reproduced, metering."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llama_cpp import Llama

from collab import Run
from collab.models.local import LocalModel
from collab.models.local_generation import SAMPLING
from collab.speculative import (
    INVARIANT_CONTEXT,
    CrossVocabDraft,
    DraftModel,
    Speculative,
    SpeculativeCompletion,
    skip_layers,
)
from collab.speculative.verify import Sampler

pytestmark = pytest.mark.integration

PASSAGE = (
    "The lighthouse at Point Reyes was built in 1870 and stands on a rocky headland about 30 "
    "miles northwest of San Francisco. Its first-order Fresnel lens, made in France, has 24 "
    "panels and was lit by an oil lamp until the station was electrified in 1939. Keepers "
    "climbed 308 steps each night to wind the clockwork that turned the lens."
)
PROMPTS = [
    f"Repeat the following text exactly:\n\n{PASSAGE}",
    f"Summarize the following text in one sentence.\n\n{PASSAGE}",
    f"{PASSAGE}\n\nWhen was the lighthouse built?",
    "Write a Python function that reverses a string.",
    "List the days of the week.",
    "Tell me a short story about a cat.",
    "What is the capital of France?",
    "Count from one to twenty in words.",
    "Explain photosynthesis in two sentences.",
    "Write a haiku about rain.",
    [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "Say hello and introduce yourself."},
    ],
    "Give three tips for writing clear emails, as a numbered list.",
]


@pytest.fixture(scope="module")
def speculative(smollm2: LocalModel) -> Iterator[LocalModel]:
    model = LocalModel(smollm2.path, name="smollm2-spec", n_ctx=2048, speculative=True)
    yield model
    model.close()


@pytest.fixture(scope="module")
def forced(smollm2: LocalModel) -> Iterator[LocalModel]:
    """Every draft on offer verified: whether drafting pays depends on the machine's batch
    costs (the benchmark's business), what is drafted and metered must not."""
    settings = Speculative(adaptive=False)
    model = LocalModel(smollm2.path, name="smollm2-forced", n_ctx=2048, speculative=settings)
    yield model
    model.close()


@pytest.fixture(scope="module")
def reference(smollm2: LocalModel) -> Iterator[Llama]:
    """llama-cpp-python's own greedy decoding, on a context set up as the speculative one."""
    llm = Llama(str(smollm2.path), n_ctx=2048, verbose=False, **INVARIANT_CONTEXT)
    yield llm
    llm.close()


def reference_text(model: LocalModel, llm: Llama, prompt: object, max_tokens: int) -> str:
    tokens = model.prompt_tokens(prompt)  # type: ignore[arg-type]
    stop = ["<|im_end|>"]
    out = llm.create_completion(
        tokens, max_tokens=max_tokens, temperature=0.0, stop=stop, **SAMPLING
    )
    return str(out["choices"][0]["text"])


def test_greedy_prompt_lookup_is_the_targets_output_on_many_prompts(
    speculative: LocalModel, reference: Llama
) -> None:
    for prompt in PROMPTS:
        done = speculative.complete(prompt, max_tokens=48)  # type: ignore[arg-type]
        assert isinstance(done, SpeculativeCompletion) and done.speculation is not None
        assert done.text == reference_text(speculative, reference, prompt, 48), prompt
        stats = done.speculation
        assert stats.tokens == done.usage.completion_tokens
        assert stats.accepted <= stats.drafted
        # each decode yields its accepted drafts and one token of its own (the prefill, one)
        assert stats.tokens <= 1 + stats.target_decodes + stats.accepted


def test_forced_long_drafts_stay_lossless(smollm2: LocalModel, reference: Llama) -> None:
    """Every draft on offer verified, up to 15 tokens: many rejections and KV rollbacks."""
    settings = Speculative(adaptive=False, max_draft=15)
    with LocalModel(smollm2.path, n_ctx=2048, speculative=settings) as model:
        for prompt in PROMPTS[:4]:
            done = model.complete(prompt, max_tokens=64)  # type: ignore[arg-type]
            assert done.text == reference_text(model, reference, prompt, 64), prompt
            stats = done.speculation  # type: ignore[attr-defined]
            assert stats.drafted > stats.accepted  # some drafts were rejected and rolled back


def test_batched_exactness_verifies_in_any_size_and_stays_lossless_here(
    smollm2: LocalModel, reference: Llama
) -> None:
    """``exactness="batched"`` skips the probe's limit (every size up to 16, 9-15 included);
    SmolLM2's Q4_1 kernels do not change with the batch, so its output is still the target's."""
    settings = Speculative(adaptive=False, exactness="batched")
    with LocalModel(smollm2.path, n_ctx=2048, speculative=settings) as model:
        for prompt in PROMPTS[:4]:
            done = model.complete(prompt, max_tokens=64)  # type: ignore[arg-type]
            assert done.text == reference_text(model, reference, prompt, 64), prompt
            stats = done.speculation  # type: ignore[attr-defined]
            assert stats.max_batch == 16 and stats.drafted > stats.accepted > 0


def test_a_layer_skipping_draft_model_is_lossless(
    smollm2: LocalModel, reference: Llama, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("drafter") / "smollm2-28.gguf"
    skip_layers(smollm2.path, path, [i for i in range(30) if i not in (9, 20)])
    with (
        LocalModel(path, n_ctx=2048, chat_format="chatml", name="drafter") as drafter,
        LocalModel(
            smollm2.path,
            n_ctx=2048,
            speculative=Speculative(draft=DraftModel(drafter), adaptive=False, max_draft=4),
        ) as model,
    ):
        accepted = 0
        for prompt in PROMPTS[:3]:
            done = model.complete(prompt, max_tokens=40)
            assert done.text == reference_text(model, reference, prompt, 40), prompt
            accepted += done.speculation.accepted  # type: ignore[attr-defined]
        assert accepted > 0


def test_stream_equals_complete_and_calls_are_metered(forced: LocalModel) -> None:
    prompt = PROMPTS[0]
    with Run() as run:
        metered = run.wrap(forced)
        stream = metered.stream(prompt, max_tokens=64)
        streamed = "".join(stream)
        done = metered.complete(prompt, max_tokens=64)
    assert streamed == done.text
    assert stream.completion.speculation is not None  # type: ignore[attr-defined]
    records = run.ledger.records
    assert [r.model for r in records] == ["smollm2-forced", "smollm2-forced"]
    assert records[1].completion_tokens == done.usage.completion_tokens
    for record, completion in zip(records, [stream.completion, done], strict=True):
        assert record.speculation == completion.speculation  # type: ignore[attr-defined]
        assert record.speculation is not None and record.speculation.drafted > 0


def test_a_prediction_is_drafted_from(forced: LocalModel) -> None:
    prompt = "Write one sentence about a lighthouse."
    plain = forced.complete(prompt, max_tokens=40)
    predicted = forced.complete(prompt, max_tokens=40, prediction=plain.text)
    assert predicted.text == plain.text
    stats = predicted.speculation  # type: ignore[attr-defined]
    assert stats.accepted > 0.5 * stats.tokens  # the prediction was right: mostly accepted


def test_sampling_is_speculative_and_varies(speculative: LocalModel) -> None:
    texts = {
        speculative.complete(PROMPTS[0], max_tokens=32, temperature=0.9).text for _ in range(3)
    }
    assert len(texts) > 1


def test_the_sampler_reproduces_llama_cpps_chain(reference: Llama, smollm2: LocalModel) -> None:
    """Draws from llama.cpp's own sampler chain follow ``Sampler.distribution`` exactly."""
    reference.reset()
    reference.eval(smollm2.prompt_tokens("Name an animal."))
    logits = np.ctypeslib.as_array(
        reference._ctx.get_logits_ith(-1), shape=(reference.n_vocab(),)
    ).copy()
    expected = Sampler(temperature=1.5, **{k: SAMPLING[k] for k in ("top_k", "top_p", "min_p")})
    dist = expected.distribution(logits)
    draws = []
    for seed in range(3000):
        reference.set_seed(seed)
        sampler = reference._init_sampler(temp=1.5, **SAMPLING)
        draws.append(sampler.sample(reference._ctx, -1))
    counts = np.array([draws.count(int(token)) for token in dist.ids])
    assert counts.sum() == len(draws)  # never a token outside the filtered support
    expected_counts = dist.probs * len(draws)
    keep = expected_counts >= 5
    statistic = (((counts - expected_counts) ** 2) / expected_counts)[keep].sum()
    assert statistic < 3 * keep.sum() + 30  # far below a gross mismatch; df = cells - 1


def gemma_path() -> Path | None:
    from collab.models.catalog import model_path

    path = model_path("gemma3-270m", pull=False)
    return path if path.is_file() else None


def test_smollm2_drafts_for_gemma_across_vocabularies(smollm2: LocalModel) -> None:
    path = gemma_path()
    if path is None:
        pytest.skip("gemma-3-270m is not pulled: collab models pull gemma3-270m")
    settings = Speculative(draft=CrossVocabDraft(smollm2), adaptive=False, max_draft=2)
    with LocalModel(path, n_ctx=1024, speculative=settings) as gemma:
        ref = Llama(str(path), n_ctx=1024, verbose=False, **INVARIANT_CONTEXT)
        try:
            accepted = 0
            for prompt in (PROMPTS[0], "The capital of France is"):
                done = gemma.complete_text(prompt, max_tokens=40)
                tokens = gemma.prompt_tokens(prompt, raw=True)
                out = ref.create_completion(tokens, max_tokens=40, temperature=0.0, **SAMPLING)
                assert done.text == out["choices"][0]["text"], prompt
                accepted += done.speculation.accepted  # type: ignore[attr-defined]
            assert accepted > 0
        finally:
            ref.close()


@pytest.fixture(scope="module")
def invariant_plain(smollm2: LocalModel) -> Iterator[LocalModel]:
    model = LocalModel(smollm2.path, name="smollm2-invariant", n_ctx=2048, batch_invariant=True)
    yield model
    model.close()


def test_a_batch_invariant_plain_model_generates_what_the_speculative_one_does(
    speculative: LocalModel, invariant_plain: LocalModel
) -> None:
    """Turning speculation on changes nothing but speed, through the public API alone,
    including past 512 cached tokens (where attention kernels switch by shape)."""
    long_prompt = f"{PASSAGE}\n\n" * 7 + "Rewrite the text above as a bulleted list."
    for prompt in [*PROMPTS[:6], long_prompt]:
        plain = invariant_plain.complete(prompt, max_tokens=64)  # type: ignore[arg-type]
        fast = speculative.complete(prompt, max_tokens=64)  # type: ignore[arg-type]
        assert fast.text == plain.text, prompt
        assert not isinstance(plain, SpeculativeCompletion)
    assert speculative.count_tokens(long_prompt) > 600


def test_schema_calls_decode_plainly_under_their_grammar(
    speculative: LocalModel, invariant_plain: LocalModel
) -> None:
    """A grammar decides tokens the draft knows nothing of: such calls skip speculation and
    answer exactly as the plain model does, then speculation resumes."""
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        country: str

    prompt = "Name a large city and its country, as JSON."
    fast = speculative.complete(prompt, max_tokens=40, schema=City)
    plain = invariant_plain.complete(prompt, max_tokens=40, schema=City)
    assert isinstance(fast.parsed, City) and fast.parsed == plain.parsed
    assert getattr(fast, "speculation", None) is None
    after = speculative.complete(PROMPTS[0], max_tokens=32)
    assert isinstance(after, SpeculativeCompletion) and after.speculation is not None
