"""The pure parts of LocalModel: option maths, token boundaries, streaming rules, argument checks.

No model file is loaded here: tokenisers and llama contexts are small fakes.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collab.errors import UserError
from collab.models import local_stream
from collab.models.chat_prompt import ChatTemplate
from collab.models.local import LocalModel
from collab.models.local_generation import StreamStats, check_sampling, generate_deltas
from collab.models.local_loading import positive, resolve_model
from collab.models.local_scoring import (
    OptionScores,
    check_options,
    softmax,
    split_shared_prefix,
)
from collab.types import Message


class GreedyTokenizer:
    """Longest-match tokeniser over a fixed vocabulary: merges across a prompt/option boundary
    the way BPE does (a trailing space joins the next word)."""

    def __init__(self, vocab: list[str]) -> None:
        self.vocab = vocab
        self.ids = {piece: i for i, piece in enumerate(vocab)}

    def encode(self, text: str) -> list[int]:
        tokens, i = [], 0
        while i < len(text):
            piece = max((p for p in self.vocab if text.startswith(p, i)), key=len)
            tokens.append(self.ids[piece])
            i += len(piece)
        return tokens

    def decode(self, tokens: list[int]) -> str:
        return "".join(self.vocab[t] for t in tokens)


TOKENIZER = GreedyTokenizer(
    [*"abcdefghijklmnopqrstuvwxyz:?! ", "Answer", "Answer:", " yes", " no", "yes", "no"]
)


# -- option maths -------------------------------------------------------------------------


def test_softmax_matches_exponentials_and_sums_to_one() -> None:
    logprobs = [math.log(0.2), math.log(0.6), math.log(0.2)]
    probs = softmax(logprobs)
    assert probs == pytest.approx([0.2, 0.6, 0.2])
    assert sum(probs) == pytest.approx(1.0)


def test_softmax_is_stable_for_very_unlikely_options() -> None:
    # exp(-1000) underflows to 0: a naive softmax would divide 0 by 0.
    probs = softmax([-1000.0, -1000.0 - math.log(3)])
    assert probs == pytest.approx([0.75, 0.25])


def test_softmax_of_impossible_options_is_uniform() -> None:
    assert softmax([-math.inf, -math.inf]) == [0.5, 0.5]
    assert softmax([-math.inf, -2.0]) == [0.0, 1.0]


def test_option_scores_best_is_the_most_probable_option() -> None:
    scores = OptionScores(("a", "b", "c"), (-3.0, -1.0, -2.0), (0.09, 0.67, 0.24), (1, 1, 1))
    assert scores.best == "b"


# -- tokenisation boundary -----------------------------------------------------------------


def split(prompt: str, options: list[str]) -> tuple[list[int], list[list[int]]]:
    full = [TOKENIZER.encode(prompt + option) for option in options]
    return split_shared_prefix(TOKENIZER.encode(prompt), full)


def test_clean_boundary_scores_exactly_the_option_tokens() -> None:
    shared, tails = split("Answer:", ["yes", "no"])
    assert TOKENIZER.decode(shared) == "Answer:"
    assert [TOKENIZER.decode(t) for t in tails] == ["yes", "no"]


def test_merged_boundary_moves_the_trailing_space_into_every_tail() -> None:
    # "Answer: " + "yes" tokenises as "Answer:" + " yes": the prompt's own last token (" ")
    # is not a prefix of it, so the space is scored with each option, the same for all.
    assert TOKENIZER.encode("Answer: ")[-1] == TOKENIZER.ids[" "]
    shared, tails = split("Answer: ", ["yes", "no"])
    assert TOKENIZER.decode(shared) == "Answer:"
    assert [TOKENIZER.decode(t) for t in tails] == [" yes", " no"]


def test_one_merging_option_shortens_the_shared_prefix_for_all() -> None:
    # Only "yes"/"no" merge with the space; "maybe" does not, but must be scored from the same
    # point so that the options compare like with like.
    shared, tails = split("Answer: ", ["yes", "maybe"])
    assert TOKENIZER.decode(shared) == "Answer:"
    assert [TOKENIZER.decode(t) for t in tails] == [" yes", " maybe"]
    assert TOKENIZER.decode(shared + tails[1]) == "Answer: maybe"


def test_every_tail_keeps_at_least_one_token() -> None:
    shared, tails = split("ab", ["c", "cd"])
    assert all(tails)
    assert TOKENIZER.decode(shared) == "ab"


def test_nothing_shared_is_refused() -> None:
    # A prompt that is a single token merging with the option leaves nothing to condition on.
    with pytest.raises(ValueError, match="share no leading token"):
        split_shared_prefix(TOKENIZER.encode(" "), [TOKENIZER.encode(" yes")])


# -- argument checks -----------------------------------------------------------------------


@pytest.mark.parametrize("options", [[], "yes", ["yes", ""], ["yes", 3]])
def test_bad_options_raise_user_error_naming_them(options: object) -> None:
    with pytest.raises(UserError) as info:
        check_options(options)  # type: ignore[arg-type]
    assert info.value.hint


def test_good_options_come_back_as_a_list() -> None:
    assert check_options(("yes", "no")) == ["yes", "no"]


@pytest.mark.parametrize("max_tokens", [0, -5, 2.5, True, None])
def test_bad_max_tokens_raise_user_error(max_tokens: object) -> None:
    with pytest.raises(UserError, match="max_tokens") as info:
        check_sampling(max_tokens, 0.0, None)  # type: ignore[arg-type]
    assert repr(max_tokens) in info.value.message


@pytest.mark.parametrize("temperature", [-0.1, math.nan, math.inf, "hot"])
def test_bad_temperature_raises_user_error(temperature: object) -> None:
    with pytest.raises(UserError, match="temperature"):
        check_sampling(16, temperature, None)  # type: ignore[arg-type]


def test_stop_strings_are_normalised_and_checked() -> None:
    assert check_sampling(16, 0.7, None) == []
    assert check_sampling(16, 0, "\n") == ["\n"]
    assert check_sampling(16, 0, ["a", "b"]) == ["a", "b"]
    with pytest.raises(UserError, match="stop"):
        check_sampling(16, 0, ["a", ""])


def test_paths_and_gguf_names_are_files_not_catalog_names(tmp_path: Path) -> None:
    existing = tmp_path / "weights.bin"
    existing.write_bytes(b"")
    assert resolve_model(existing) == (existing, None)
    assert resolve_model(str(existing)) == (existing, None)
    assert resolve_model("~/models/absent.gguf") == (Path.home() / "models/absent.gguf", None)


def test_bad_settings_fail_before_any_file_is_touched() -> None:
    with pytest.raises(UserError, match="n_ctx must be a positive integer, got -1"):
        LocalModel("/nonexistent/model.gguf", n_ctx=-1)
    with pytest.raises(UserError, match="n_threads"):
        LocalModel("/nonexistent/model.gguf", n_threads=0)


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_bad_context_or_thread_counts_raise(value: object) -> None:
    with pytest.raises(UserError, match="n_ctx"):
        positive("n_ctx", value)  # type: ignore[arg-type]
    assert positive("n_ctx", None) is None
    assert positive("n_ctx", 2048) == 2048


# -- chat templates --------------------------------------------------------------------------


def test_named_chat_format_renders_up_to_the_reply() -> None:
    rendered = ChatTemplate.named("gemma").render([Message(role="user", content="Hi there")])
    assert rendered.text.endswith(
        "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"
    )
    assert "<end_of_turn>\n" in rendered.stop
    assert rendered.add_bos  # the gemma format leaves BOS to the tokenizer


def test_unknown_chat_format_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="'no-such-format'") as info:
        ChatTemplate.named("no-such-format")
    assert "chatml" in info.value.hint
    assert "functionary" not in info.value.hint  # needs a full Llama call: not offered


def test_gguf_template_renders_and_reports_its_own_bos() -> None:
    template = ChatTemplate.from_gguf(
        {
            "tokenizer.chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]"
            "{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
        },
        bos="<s>",
        eos="</s>",
        eos_id=2,
    )
    rendered = template.render([Message(role="user", content="hello")])
    assert rendered.text == "<s>[user]hello[assistant]"
    assert rendered.stop == ("</s>",)
    assert not rendered.add_bos


def test_template_errors_become_user_errors() -> None:
    template = ChatTemplate.from_gguf(
        {"tokenizer.chat_template": "{{ raise_exception('roles must alternate') }}"},
        bos="",
        eos="",
        eos_id=0,
    )
    with pytest.raises(UserError, match="roles must alternate"):
        template.render([Message(role="user", content="x")])


# -- streaming rules -------------------------------------------------------------------------


class FakeLlama:
    """Replays scripted tokens from ``generate``; ``EOS`` ends a reply."""

    EOS = 0

    def __init__(self, pieces: list[bytes], n_ctx: int = 100) -> None:
        self.pieces = [b"</s>", *pieces]
        self._n_ctx = n_ctx

    def n_ctx(self) -> int:
        return self._n_ctx

    def set_seed(self, seed: int) -> None:
        pass

    def generate(self, tokens: list[int], **sampling: object) -> Iterator[int]:
        yield from range(1, len(self.pieces))
        yield self.EOS

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)


def stream(
    pieces: list[bytes], *, stop: list[str], max_tokens: int = 50
) -> tuple[list[str], StreamStats]:
    stats = StreamStats()
    deltas = generate_deltas(
        FakeLlama(pieces),  # type: ignore[arg-type]
        [7, 8, 9],
        max_tokens=max_tokens,
        temperature=0.0,
        stop=stop,
        seed=0,
        stats=stats,
        is_eog=lambda token: token == FakeLlama.EOS,
    )
    return list(deltas), stats


def test_stream_ends_at_end_of_sequence_with_exact_counts() -> None:
    deltas, stats = stream([b"Hel", b"lo", b" world"], stop=[])
    assert deltas == ["Hel", "lo", " world"]
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (3, 3, "stop")


def test_stop_string_split_across_tokens_is_never_emitted() -> None:
    deltas, stats = stream([b"one", b" EN", b"D", b" two"], stop=["END"])
    assert "".join(deltas) == "one "
    assert not any("EN" in d for d in deltas)
    assert stats.finish_reason == "stop"
    assert stats.completion_tokens == 3  # like create_completion: the token that completed it


def test_held_back_text_is_released_when_it_is_not_a_stop() -> None:
    deltas, _ = stream([b"the EN", b"d is near"], stop=["END"])
    assert "".join(deltas) == "the ENd is near"


def test_multibyte_characters_split_across_tokens_arrive_whole() -> None:
    snowman = "☃".encode()
    deltas, _ = stream([b"a" + snowman[:1], snowman[1:], b"b"], stop=[])
    assert "".join(deltas) == "a☃b"
    assert all("\ufffd" not in d for d in deltas)


def test_max_tokens_ends_the_stream_with_length() -> None:
    deltas, stats = stream([b"a", b"b", b"c", b"d"], stop=[], max_tokens=2)
    assert "".join(deltas) == "ab"
    assert (stats.completion_tokens, stats.finish_reason) == (2, "length")


# -- sharing one context: the gate and the streams ------------------------------------------


def counting(
    n: int, steps: list[int] | None = None, fail_at: int | None = None
) -> Callable[[], Iterator[str]]:
    """A producer of n deltas that records which thread decoded each one."""

    def produce() -> Iterator[str]:
        for i in range(n):
            if i == fail_at:
                raise RuntimeError(f"decode failed at {i}")
            if steps is not None:
                steps.append(threading.get_ident())
            yield str(i)

    return produce


def test_inline_stream_holds_the_gate_while_live_and_frees_it_at_the_end() -> None:
    gate = local_stream.ModelGate()
    stream = local_stream.InlineStream(counting(3), gate)
    assert not gate._lock.locked()  # nothing happens before the first read
    assert next(stream) == "0"
    assert gate._lock.locked()
    assert list(stream) == ["1", "2"]
    assert not gate._lock.locked()


def test_a_call_from_the_reading_thread_drains_the_stream_instead_of_deadlocking() -> None:
    gate = local_stream.ModelGate()
    steps: list[int] = []
    stream = local_stream.InlineStream(counting(5, steps), gate)
    assert next(stream) == "0"
    with gate.hold():  # e.g. model.complete() inside the `for delta in stream` body
        assert len(steps) == 5  # the stream's generation finished first
    assert list(stream) == ["1", "2", "3", "4"]  # and its reader still gets every delta


def test_another_thread_drains_a_stream_whose_reader_went_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_stream, "IDLE_S", 0.02)
    gate = local_stream.ModelGate()
    stream = local_stream.InlineStream(counting(4), gate)
    assert next(stream) == "0"  # ...and the reader never comes back
    acquired = threading.Event()

    def other_caller() -> None:
        with gate.hold():
            acquired.set()

    worker = threading.Thread(target=other_caller)
    worker.start()
    worker.join(timeout=5)
    assert acquired.is_set()
    assert list(stream) == ["1", "2", "3"]


def test_a_stream_being_read_is_not_drained_by_a_waiting_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_stream, "IDLE_S", 0.2)
    gate = local_stream.ModelGate()
    steps: list[int] = []
    stream = local_stream.InlineStream(counting(6, steps), gate)
    assert next(stream) == "0"
    order: list[str] = []

    def other_caller() -> None:
        with gate.hold():
            order.append("other")

    worker = threading.Thread(target=other_caller)
    worker.start()
    for delta in stream:  # a reader that keeps up (well under IDLE_S between reads)
        order.append(delta)
        threading.Event().wait(0.01)
    worker.join(timeout=5)
    assert order == ["1", "2", "3", "4", "5", "other"]
    assert set(steps) == {threading.get_ident()}  # every token decoded by the reader


def test_a_dropped_stream_frees_the_gate() -> None:
    gate = local_stream.ModelGate()
    stream = local_stream.InlineStream(counting(10), gate)
    next(stream)
    del stream
    assert gate._lock.acquire(timeout=1)


def test_decode_errors_reach_the_reader_after_the_deltas_before_them() -> None:
    gate = local_stream.ModelGate()
    stream = local_stream.InlineStream(counting(5, fail_at=3), gate)
    assert next(stream) == "0"
    with gate.hold():  # drains: the failure happens while nobody is reading
        pass
    assert [next(stream), next(stream)] == ["1", "2"]
    with pytest.raises(RuntimeError, match="decode failed at 3"):
        next(stream)
    assert not gate._lock.locked()


async def test_async_deltas_do_not_block_the_event_loop() -> None:
    release = threading.Event()

    def produce() -> Iterator[str]:
        yield "first"
        # A slow decode step that only ends when the event loop gets to run the ticker: if
        # waiting for the worker blocked the loop, this would time out instead.
        released = release.wait(timeout=5)
        yield "second" if released else "timed out"

    async def ticker() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
        release.set()

    ticking = asyncio.create_task(ticker())
    gate = local_stream.ModelGate()
    received = [delta async for delta in local_stream.async_deltas(produce, gate)]
    await ticking
    assert received == ["first", "second"]
    assert not gate._lock.locked()


async def test_leaving_an_async_stream_early_frees_the_gate() -> None:
    gate = local_stream.ModelGate()
    deltas = local_stream.async_deltas(counting(10_000), gate)
    assert await anext(deltas) == "0"
    await deltas.aclose()
    assert await asyncio.to_thread(gate._lock.acquire, timeout=5)
