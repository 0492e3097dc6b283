"""Verification rules: greedy acceptance, llama.cpp's sampler chain, speculative sampling.

The sampling tests are statistical: many draws of one verification step against the exact
target distribution, judged by a chi-square statistic at a 0.1% level (seeded, so they are
deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from collab.speculative.verify import Distribution, Sampler, accept_greedy, accept_sampled

# chi-square critical values at p = 0.001, by degrees of freedom
CHI2_CRITICAL = {3: 16.27, 4: 18.47, 5: 20.52, 7: 24.32}
FULL = Sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)


def chi_square(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """The statistic over the cells with positive probability, and its degrees of freedom;
    draws that land on an impossible token fail outright."""
    impossible = counts[probs == 0].sum()
    assert impossible == 0, f"{impossible} draws of tokens the target never samples"
    keep = probs > 0
    expected = probs[keep] * counts.sum()
    return float(((counts[keep] - expected) ** 2 / expected).sum()), int(keep.sum()) - 1


def dense(dist: Distribution, n: int) -> np.ndarray:
    out = np.zeros(n)
    out[dist.ids] = dist.probs
    return out


def test_greedy_accepts_the_agreeing_prefix_and_returns_the_targets_token() -> None:
    rows = np.array([[0, 5, 1], [9, 0, 0], [0, 0, 3], [1, 2, 0]], dtype=np.float32)
    assert accept_greedy(rows, [1, 0, 2]) == (3, 1)  # all confirmed, then the bonus token
    assert accept_greedy(rows, [1, 2, 2]) == (1, 0)  # second rejected: the target's 0 instead
    assert accept_greedy(rows[:1], []) == (0, 1)  # no draft: a plain greedy step
    tie = np.array([[2, 2, 1]], dtype=np.float32)
    assert accept_greedy(tie, []) == (0, 0)  # ties go to the lowest id, as llama.cpp's


def test_sampler_applies_top_k_top_p_min_p_then_temperature() -> None:
    logits = np.log(np.array([0.5, 0.3, 0.1, 0.06, 0.04], dtype=np.float32))
    top2 = Sampler(temperature=1.0, top_k=2, top_p=1.0, min_p=0.0).distribution(logits)
    assert list(top2.ids) == [0, 1]
    assert top2.probs == pytest.approx([0.5 / 0.8, 0.3 / 0.8])
    # top-p keeps the smallest prefix reaching p: 0.5 + 0.3 + 0.1 >= 0.85
    nucleus = Sampler(temperature=1.0, top_k=0, top_p=0.85, min_p=0.0).distribution(logits)
    assert list(nucleus.ids) == [0, 1, 2]
    # min-p keeps tokens with at least min_p times the top probability: 0.1 >= 0.15 * 0.5
    floor = Sampler(temperature=1.0, top_k=0, top_p=1.0, min_p=0.15).distribution(logits)
    assert list(floor.ids) == [0, 1, 2]
    # temperature applies after the filters, on what is left
    hot = Sampler(temperature=2.0, top_k=2, top_p=1.0, min_p=0.0).distribution(logits)
    weights = np.sqrt([0.5, 0.3])
    assert hot.probs == pytest.approx(weights / weights.sum())


def test_distribution_samples_by_quantile() -> None:
    dist = Distribution(np.array([7, 3, 9]), np.array([0.2, 0.5, 0.3]))
    assert [dist.sample(u) for u in (0.0, 0.19, 0.2, 0.69, 0.7, 0.999)] == [7, 7, 3, 3, 9, 9]
    assert dist.prob(3) == 0.5 and dist.prob(4) == 0.0


def _first_tokens(
    p_rows: np.ndarray,
    q: Distribution | None,
    fixed: list[int] | None,
    sampler: Sampler,
    n: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Output tokens 0 and 1 of ``n`` verification steps (token 1 is -1 unless token 0 was
    the accepted draft)."""
    rng = np.random.default_rng(seed)
    first = np.empty(n, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if fixed is not None:
            draft, dists = fixed, None
        else:
            assert q is not None
            draft, dists = [q.sample(float(rng.random()))], [q]
        accepted, token = accept_sampled(p_rows, draft, sampler, rng.random(5), dists)
        if accepted == 0:
            first[i] = token
        else:
            first[i] = draft[0]
            second[i] = draft[1] if accepted == 2 else token
    return first, second


@pytest.mark.parametrize("sampler", [FULL, Sampler(temperature=0.7)], ids=["plain", "filtered"])
def test_sampled_drafts_leave_the_target_distribution_unchanged(sampler: Sampler) -> None:
    vocab = 6
    gen = np.random.default_rng(1)
    rows = gen.normal(0, 1.5, size=(2, vocab)).astype(np.float32)
    target = dense(sampler.distribution(rows[0]), vocab)
    # a drafter that disagrees with the target (its own logits), over the whole vocabulary
    q = FULL.distribution(gen.normal(0, 1.5, size=vocab).astype(np.float32))
    first, _ = _first_tokens(rows, q, None, sampler, 20_000, seed=2)
    statistic, df = chi_square(np.bincount(first, minlength=vocab), target)
    assert statistic < CHI2_CRITICAL[df]


@pytest.mark.parametrize("choice", ["likely", "unlikely", "impossible"])
def test_deterministic_drafts_leave_the_target_distribution_unchanged(choice: str) -> None:
    vocab = 6
    sampler = Sampler(temperature=0.8, top_k=4, top_p=1.0, min_p=0.0)
    rows = np.array(
        [
            [2.0, 1.5, 0.3, -0.5, -1.0, -3.0],
            [0.1, 0.2, 1.0, 0.0, -1.0, 0.5],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ],
        dtype=np.float32,
    )
    target = dense(sampler.distribution(rows[0]), vocab)
    token = {"likely": 0, "unlikely": 3, "impossible": 5}[choice]  # 5 is outside top-k
    first, second = _first_tokens(rows, None, [token, 2], sampler, 20_000, seed=3)
    statistic, df = chi_square(np.bincount(first, minlength=vocab), target)
    assert statistic < CHI2_CRITICAL[df]
    # after an accepted draft token, the next token follows the next row's distribution
    following = second[first == token]
    if choice != "impossible":
        expected = dense(sampler.distribution(rows[1]), vocab)
        statistic, df = chi_square(np.bincount(following, minlength=vocab), expected)
        assert statistic < CHI2_CRITICAL[df]
    else:
        assert len(following) == 0


def test_acceptance_rate_of_a_deterministic_draft_is_the_targets_probability() -> None:
    logits = np.log(np.array([0.6, 0.3, 0.1], dtype=np.float32))
    rows = np.stack([logits, logits])
    rng = np.random.default_rng(4)
    accepted = sum(accept_sampled(rows, [1], FULL, rng.random(3))[0] for _ in range(10_000))
    # binomial(10000, 0.3): 0.3 within about 5 standard deviations
    assert math.isclose(accepted / 10_000, 0.3, abs_tol=5 * math.sqrt(0.3 * 0.7 / 10_000))
