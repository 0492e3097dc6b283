"""stage_prompt: a prompt is evaluated in the same batches whether it was cached or not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from collab.models import prompt_staging
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
