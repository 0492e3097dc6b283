"""stage_prompt: a prompt is evaluated in the same batches whether it was cached or not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from collab.errors import UserError
from collab.models import prefix_states, prompt_staging
from collab.models.prefix_states import PrefixStates
from collab.models.prompt_staging import forget_from, stage_prompt


class _Ctx:
    def __init__(self, llm: _FakeLlama) -> None:
        self.llm = llm

    def kv_cache_seq_rm(self, seq: int, start: int, end: int) -> bool:
        self.llm.removed.append(start)
        return True


class _FakeLlama:
    """The bookkeeping of a llama-cpp-python ``Llama``; records each ``eval`` batch."""

    def __init__(self) -> None:
        self.input_ids = np.zeros(256, dtype=np.intc)
        self.n_tokens = 0
        self._ctx = _Ctx(self)
        self._requires_eval = False
        self.batches: list[list[int]] = []
        self.removed: list[int] = []
        self.resets = 0

    def eval(self, tokens: list[int]) -> None:
        self.batches.append(list(tokens))
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self._requires_eval = False

    def reset(self) -> None:
        self.resets += 1
        self.n_tokens = 0

    def load_state(self, state: Any) -> None:
        self.input_ids[: len(state)] = state
        self.n_tokens = len(state)

    def held(self) -> list[int]:
        return [int(t) for t in self.input_ids[: self.n_tokens]]

    def generate_reply(self, reply: list[int]) -> None:
        """What Llama.generate does after staging: the last prompt token, then the reply."""
        for token in reply:
            self.eval([token])

    def log(self) -> list[list[int]]:
        done, self.batches, self.removed = self.batches, [], []
        return done


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_staging, "CHUNK", 4)


def test_a_cold_prompt_is_evaluated_in_aligned_chunks_without_its_last_token() -> None:
    llm = _FakeLlama()
    stage_prompt(llm, list(range(1, 12)))
    assert llm.log() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert llm.held() == list(range(1, 11)) and llm._requires_eval


def test_the_same_prompt_again_after_its_reply_is_cut_back_without_decoding() -> None:
    llm = _FakeLlama()
    prompt = list(range(1, 12))
    stage_prompt(llm, prompt)
    llm.generate_reply([11, 50, 51])
    llm.log()
    stage_prompt(llm, prompt)
    assert llm.log() == [] and llm.held() == list(range(1, 11)) and llm.resets == 1


def test_a_shared_prefix_is_reused_in_whole_chunks_only() -> None:
    llm = _FakeLlama()
    stage_prompt(llm, list(range(1, 12)))  # staged 1..10: chunks 1-4, 5-8 and 9-10
    llm.generate_reply([11, 50])
    llm.log()
    stage_prompt(llm, [1, 2, 3, 4, 5, 6, 7, 8, 9, 99, 98, 97])
    assert llm.log() == [[9, 99, 98]]  # 9 was staged, but in a smaller batch than now
    assert llm.held() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 99, 98]


def test_a_longer_prompt_does_not_reuse_a_partial_chunk_of_a_shorter_one() -> None:
    llm = _FakeLlama()
    stage_prompt(llm, [1, 2, 3, 4, 5, 6])  # chunks 1-4 and 5
    llm.log()
    stage_prompt(llm, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert llm.log() == [[5, 6, 7, 8], [9]]


def test_values_written_outside_staging_are_not_reused() -> None:
    llm = _FakeLlama()
    prompt = list(range(1, 12))
    stage_prompt(llm, prompt)
    llm.n_tokens = 2  # e.g. scoring re-decodes from position 2 in a batch of its own
    llm.eval([3, 4, 5])
    llm.log()
    stage_prompt(llm, prompt)
    assert llm.log() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_a_loaded_state_and_a_forgotten_position_are_not_reused() -> None:
    llm = _FakeLlama()
    prompt = list(range(1, 12))
    stage_prompt(llm, prompt)
    llm.load_state(list(range(1, 11)))
    llm.log()
    stage_prompt(llm, prompt)
    assert llm.log() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    forget_from(llm, 5)
    stage_prompt(llm, prompt)
    assert llm.log() == [[5, 6, 7, 8], [9, 10]]


def test_a_one_token_prompt_leaves_an_empty_cache_for_generate() -> None:
    llm = _FakeLlama()
    stage_prompt(llm, [1, 2, 3])
    stage_prompt(llm, [7])
    assert llm.held() == [] and llm.log() == [[1, 2]]


class _States(PrefixStates):
    """PrefixStates whose saved "values" are the fake cache's tokens (no llama.cpp)."""

    refuse = False


@pytest.fixture
def fake_state_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(llm: _FakeLlama, limit: int) -> bytes | None:
        data = np.array(llm.held(), dtype=np.intc).tobytes()
        return data if 0 < len(data) <= limit else None

    def write(llm: _FakeLlama, data: bytes) -> bool:
        if _States.refuse:
            return False
        tokens = np.frombuffer(data, dtype=np.intc)
        llm.input_ids[: len(tokens)] = tokens
        return True

    monkeypatch.setattr(prefix_states, "_read_state", read)
    monkeypatch.setattr(prefix_states, "_write_state", write)
    _States.refuse = False


def _doc(n: int) -> list[int]:
    """Twelve tokens of document ``n`` (three whole chunks of 4)."""
    return [100 * n + i for i in range(12)]


def _two_documents_asked() -> tuple[_FakeLlama, _States]:
    """A model asked one question about document 1, then about document 2."""
    llm, states = _FakeLlama(), _States(10_000, min_tokens=8)
    for n in (1, 2):
        stage_prompt(llm, [*_doc(n), 7, 8, 9], states)
    llm.log()
    return llm, states


@pytest.mark.usefixtures("fake_state_io")
def test_a_saved_prompt_sharing_a_prefix_is_restored_and_only_the_rest_evaluated() -> None:
    llm, states = _two_documents_asked()
    stage_prompt(llm, [*_doc(1), 5, 6, 9], states)  # document 1 again, another question
    assert states.restored == 1 and states.tokens_skipped == 12
    assert llm.log() == [[5, 6]]  # the 12 tokens of document 1 were not evaluated again
    assert llm.held() == [*_doc(1), 5, 6]
    # The new prompt's state replaced the one it superseded: one per document.
    assert len(states) == 2 and states.saved == 3


@pytest.mark.usefixtures("fake_state_io")
def test_what_the_cache_holds_is_kept_when_no_saved_state_beats_it() -> None:
    llm, states = _FakeLlama(), _States(10_000, min_tokens=8)
    stage_prompt(llm, [*_doc(1), 7, 8, 9], states)
    stage_prompt(llm, [*_doc(1), 5, 6, 9], states)
    assert states.restored == 0 and states.tokens_skipped == 0
    # Short prompts are not saved, and the byte budget evicts the least recently used.
    stage_prompt(llm, [1, 2, 3], states)
    assert len(states) == 1
    small = _States(len(np.array([*_doc(1), 7, 8], dtype=np.intc).tobytes()), min_tokens=8)
    for n in (1, 2):
        stage_prompt(llm, [*_doc(n), 7, 8, 9], small)
    assert len(small) == 1 and small.best([*_doc(1), 7, 8], 0) is None
    assert small.best([*_doc(2), 7, 8], 0) is not None


@pytest.mark.usefixtures("fake_state_io")
def test_a_refused_restore_falls_back_to_a_full_prefill() -> None:
    llm, states = _two_documents_asked()
    _States.refuse = True
    stage_prompt(llm, [*_doc(1), 5, 6, 9], states)
    assert states.restored == 0
    assert [t for batch in llm.log() for t in batch] == [*_doc(1), 5, 6]
    assert llm.held() == [*_doc(1), 5, 6]


@pytest.mark.parametrize("megabytes", [-1, "256", True])
def test_a_bad_prefix_cache_size_is_refused_with_the_fix(megabytes: object) -> None:
    with pytest.raises(UserError, match="prefix_cache_mb") as caught:
        prefix_states.prefix_states(megabytes)  # type: ignore[arg-type]
    assert "prefix_cache_mb=256" in (caught.value.hint or "")
    assert prefix_states.prefix_states(0) is None
    assert prefix_states.prefix_states(1.5).capacity_bytes == 3 * 2**19  # type: ignore[union-attr]
