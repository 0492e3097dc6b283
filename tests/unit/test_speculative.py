"""Speculative decoding without a model: the decode loop on a fake target, prompt lookup, the
schedule, and the settings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from collab.errors import UserError
from collab.speculative import Draft, DraftRequest, PromptLookup, Speculative
from collab.speculative.config import resolve
from collab.speculative.draft_sources import TargetVocab
from collab.speculative.engine import Tally, generate
from collab.speculative.schedule import Acceptance, CostModel, Schedule, best_length
from collab.speculative.verify import Sampler

VOCAB = 12


def logits_after(context: Sequence[int]) -> np.ndarray:
    """The fake target: logits that depend on the last three tokens, with a strong habit of
    repeating what followed the same two tokens earlier (so prompt lookup often helps)."""
    seed = hash(tuple(context[-3:])) % (2**32)
    row = np.random.default_rng(seed).normal(0, 1, VOCAB).astype(np.float32)
    for i in range(len(context) - 3, 0, -1):
        if context[i - 1 : i + 1] == list(context[-2:]):
            row[context[i + 1]] += 2.5
            break
    return row


class FakeContext:
    """A target with a KV cache of tokens: what ``engine.generate`` needs of ``Context``."""

    def __init__(self, n_ctx: int = 512) -> None:
        self.n_ctx = n_ctx
        self.cache: list[int] = []
        self.decodes: list[int] = []
        self.invalidated = False

    @property
    def n_past(self) -> int:
        return len(self.cache)

    def prefill(self, tokens: Sequence[int]) -> np.ndarray:
        self.cache = list(tokens)
        return logits_after(self.cache)

    def decode(self, tokens: Sequence[int]) -> np.ndarray:
        self.decodes.append(len(tokens))
        rows = []
        for token in tokens:
            self.cache.append(token)
            rows.append(logits_after(self.cache))
        return np.stack(rows)

    def truncate(self, n_keep: int) -> None:
        del self.cache[n_keep:]

    def invalidate_logits(self) -> None:
        self.invalidated = True


def plain_greedy(prompt: list[int], n: int) -> list[int]:
    context = list(prompt)
    for _ in range(n):
        context.append(int(logits_after(context).argmax()))
    return context[len(prompt) :]


def request() -> DraftRequest:
    vocab = TargetVocab(
        tokenize=lambda b: list(b),
        detokenize=lambda t: bytes(t),
        is_eog=lambda t: False,
        end_of_turn=None,
        n_vocab=VOCAB,
        fingerprint=(1, 2),
    )
    return DraftRequest(prompt_tokens=[], prompt=None, raw=True, sampler=None, vocab=vocab)


def run_engine(
    prompt: list[int],
    n: int,
    *,
    adaptive: bool = True,
    sizes: Sequence[int] = (1, 2, 3, 4, 8, 16),
    sampler: Sampler | None = None,
    ctx: FakeContext | None = None,
) -> tuple[list[int], Tally, FakeContext]:
    ctx = ctx or FakeContext()
    tally = Tally(source="prompt-lookup", max_batch=max(sizes))
    tokens = generate(
        ctx,  # type: ignore[arg-type]
        prompt,
        session=PromptLookup().session(request()),
        free_drafts=True,
        schedule=Schedule(max_draft=15, adaptive=adaptive, costs=tally.costs),
        batch_sizes=sizes,
        max_tokens=n,
        sampler=sampler,
        rng=np.random.default_rng(0),
        tally=tally,
    )
    return list(tokens), tally, ctx


PROMPTS = [
    [1, 2, 3, 4, 5, 6, 7, 1, 2, 3],
    [5, 5, 5, 5, 5, 5],
    [0, 1, 0, 1, 0, 1, 2, 3, 2, 3],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 10],
    [3],
]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("adaptive", [True, False])
def test_greedy_speculation_is_token_for_token_the_targets_output(
    prompt: list[int], adaptive: bool
) -> None:
    tokens, tally, ctx = run_engine(prompt, 120, adaptive=adaptive)
    assert tokens == plain_greedy(prompt, 120)
    stats = tally.stats()
    assert stats.tokens == 120 and 0 <= stats.accepted <= stats.drafted
    # the cache holds exactly the prompt and the tokens decoded (rejected drafts dropped)
    assert ctx.cache == (prompt + tokens)[: len(ctx.cache)]
    assert ctx.invalidated


def test_drafts_cut_decodes_and_respect_the_allowed_batch_sizes() -> None:
    prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2, 3, 4, 5, 6, 7, 8]
    _, tally, ctx = run_engine(prompt, 100, adaptive=False, sizes=(1, 2, 3, 5))
    assert set(ctx.decodes) <= {1, 2, 3, 5}
    assert tally.target_decodes == len(ctx.decodes) < 99  # fewer decodes than tokens
    per_decode = tally.stats().tokens_per_decode
    assert per_decode is not None and per_decode > 1


def test_only_one_token_batches_is_plain_decoding() -> None:
    prompt = [1, 2, 3, 1, 2, 3, 1, 2]
    tokens, tally, ctx = run_engine(prompt, 40, sizes=(1,))
    assert tokens == plain_greedy(prompt, 40)
    assert set(ctx.decodes) == {1} and tally.drafted == 0


def test_stopping_early_leaves_a_consistent_cache() -> None:
    ctx = FakeContext()
    prompt = [4, 5, 6, 4, 5, 6, 4, 5]
    tally = Tally(source="prompt-lookup", max_batch=16)
    tokens = generate(
        ctx,  # type: ignore[arg-type]
        prompt,
        session=PromptLookup().session(request()),
        free_drafts=True,
        schedule=Schedule(max_draft=15, adaptive=False, costs=tally.costs),
        batch_sizes=(1, 2, 4, 8, 16),
        max_tokens=50,
        sampler=None,
        rng=None,
        tally=tally,
    )
    taken = [next(tokens) for _ in range(7)]
    tokens.close()  # a stop string matched: the caller stops reading
    assert ctx.invalidated
    assert ctx.cache[: len(prompt) + len(taken) - 1] == prompt + taken[:-1]
    assert taken == plain_greedy(prompt, 7)


def test_generation_never_exceeds_the_context() -> None:
    tokens, _, ctx = run_engine([1, 2, 3, 1, 2, 3], 200, ctx=FakeContext(n_ctx=40))
    assert len(ctx.cache) <= 40
    assert tokens == plain_greedy([1, 2, 3, 1, 2, 3], 34)  # as many as fit


def test_sampling_runs_and_uses_the_filtered_distribution() -> None:
    sampler = Sampler(temperature=0.8, top_k=3, top_p=1.0, min_p=0.0)
    prompt = [1, 2, 3, 1, 2, 3]
    tokens, tally, _ = run_engine(prompt, 60, sampler=sampler)
    context = list(prompt)
    for token in tokens:  # every token is one the target could have sampled there
        assert token in sampler.distribution(logits_after(context)).ids
        context.append(token)
    assert tally.stats().tokens == 60


# -- exactness: bit-identical batch sizes or any batch -----------------------------------------


class KernelSwitchContext(FakeContext):
    """A target whose batches of 4+ tokens take another weight kernel: their logits differ
    a little from one-token decoding, enough to flip near-ties (as K-quants do on CPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[list[int], np.ndarray]] = []
        """Each decode: the context before it and its logits rows."""

    def decode(self, tokens: Sequence[int]) -> np.ndarray:
        before = list(self.cache)
        rows = super().decode(tokens)
        if len(tokens) >= 4:
            rows = rows + np.random.default_rng(len(self.cache)).normal(0, 0.6, rows.shape)
        self.rows.append((before, rows.astype(np.float32)))
        return rows.astype(np.float32)


COPY_PROMPT = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2, 3, 4, 5, 6, 7, 8]


def test_probe_allows_the_sizes_below_the_first_kernel_switch() -> None:
    from collab.speculative.invariance import invariant_sizes

    ctx = KernelSwitchContext()
    ctx.prefill([1, 2, 3])
    assert invariant_sizes(ctx, [4, 5, 6, 7, 8, 9, 10, 11, 1], 9) == [1, 2, 3]  # type: ignore[arg-type]
    assert ctx.cache == [1, 2, 3]  # the probe leaves the cache as it found it
    assert invariant_sizes(FakeContext(), [4, 5, 6, 7, 8], 5) == [1, 2, 3, 4, 5]  # type: ignore[arg-type]


def test_bit_identical_sizes_keep_plain_output_where_batches_differ() -> None:
    tokens, tally, ctx = run_engine(COPY_PROMPT, 80, sizes=(1, 2, 3), ctx=KernelSwitchContext())
    assert tokens == plain_greedy(COPY_PROMPT, 80) and tally.accepted > 0
    assert max(ctx.decodes) <= 3


def test_batched_output_is_the_targets_greedy_choice_in_each_verification_batch() -> None:
    ctx = KernelSwitchContext()
    tokens, tally, _ = run_engine(COPY_PROMPT, 80, adaptive=False, sizes=range(1, 17), ctx=ctx)
    assert max(ctx.decodes) >= 4 and tally.accepted > 0
    # every token after the first is the argmax of the row that scored its position, in the
    # batch that verified it (rows of rejected draft positions were never used)
    chosen = {}
    for before, rows in ctx.rows:
        for i, row in enumerate(rows):
            chosen.setdefault(len(before) + i + 1, []).append(int(row.argmax()))
    out = COPY_PROMPT + tokens
    for position in range(len(COPY_PROMPT) + 1, len(out)):
        assert out[position] == chosen[position][-1]
    # and with these kernels that is not always what one-token decoding would pick
    assert tokens != plain_greedy(COPY_PROMPT, 80)


# -- prompt lookup ---------------------------------------------------------------------------


def test_lookup_copies_what_followed_the_longest_earlier_match() -> None:
    session = PromptLookup().session(request())
    # "7 8" occurs twice; the occurrence preceded by "6" matches the suffix "6 7 8" further
    context = [6, 7, 8, 1, 2, 3, 0, 7, 8, 9, 9, 6, 7, 8]
    draft = session.propose(context, 4)
    assert draft.tokens == [1, 2, 3, 0]
    assert draft.kind == "lookup-3"
    assert session.propose([*context, 1, 2], 2).tokens == [3, 0]  # the index follows along


def test_lookup_prefers_the_most_recent_of_equal_matches_and_may_draft_nothing() -> None:
    session = PromptLookup().session(request())
    assert session.propose([1, 2, 5, 1, 2, 6, 1, 2], 3).tokens == [6, 1, 2]
    assert PromptLookup().session(request()).propose([1, 2, 3, 4], 3) == Draft([])
    with pytest.raises(UserError, match="min_ngram"):
        PromptLookup(min_ngram=0)


# -- schedule ---------------------------------------------------------------------------------


def test_cost_model_uses_measurements_and_fits_the_sizes_in_between() -> None:
    costs = CostModel()
    assert costs.single is None and costs.seconds(3) == pytest.approx(2.1)  # the prior
    for seconds in (0.010, 0.011, 0.010):
        costs.observe(1, seconds)
    costs.observe(9, 0.050)
    assert costs.seconds(1) == pytest.approx(0.010)
    assert costs.seconds(5) == pytest.approx(0.030)  # on the line through 1 and 9
    assert costs.seconds(17) == pytest.approx(0.090)  # along it beyond


def test_cost_model_keeps_batch_costs_relative_to_the_machines_current_speed() -> None:
    """A batch timed while the machine was busy does not stay dear once it is idle again."""
    costs = CostModel()
    for _ in range(15):
        costs.observe(1, 0.020)  # busy: a one-token decode takes twice as long
    costs.observe(9, 0.100)
    for _ in range(15):
        costs.observe(1, 0.010)  # idle again
    assert costs.seconds(9) == pytest.approx(0.050)
    assert costs.ratio(9) == pytest.approx(5.0)


def test_best_length_drafts_long_when_acceptance_is_high_and_not_at_all_when_low() -> None:
    def cost(n: int) -> float:
        return 1 + 0.5 * (n - 1)

    assert best_length(0.999, 15, cost, 0.0) == 15
    assert 0 < best_length(0.85, 15, cost, 0.0) < 15
    assert best_length(0.3, 15, cost, 0.0) == 0
    assert best_length(0.9, 15, cost, 2.0) == 0  # drafting dearer than it saves


def test_acceptance_learns_forgets_and_drifts_back_while_idle() -> None:
    acceptance = Acceptance(prior=0.5)
    for _ in range(10):
        acceptance.observe(drafted=8, accepted=8)
    assert acceptance.rate > 0.95
    for _ in range(40):
        acceptance.observe(drafted=8, accepted=0)
    assert acceptance.rate < 0.3
    low = acceptance.rate
    for _ in range(50):
        acceptance.idle()  # offered, not verified: back toward the prior, tried again later
    assert low < acceptance.rate < 0.5


def test_schedule_stops_drafting_a_kind_that_keeps_failing() -> None:
    schedule = Schedule(max_draft=8)
    for n in range(1, 10):
        schedule.costs.observe(n, 0.01 * (1 + 0.5 * (n - 1)))
    for _ in range(20):
        schedule.observe("lookup-2", drafted=4, accepted=0)
    assert sum(schedule.length("lookup-2", 8) for _ in range(20)) <= 8
    assert Schedule(max_draft=8, adaptive=False).length("anything", 20) == 8


# -- settings ---------------------------------------------------------------------------------


def test_speculative_argument_resolves_to_settings() -> None:
    assert resolve(None) is None and resolve(False) is None
    assert resolve(True) == Speculative()
    lookup = PromptLookup(min_ngram=3)
    assert resolve(lookup) == Speculative(draft=lookup)
    assert resolve(Speculative(max_draft=4)).max_draft == 4  # type: ignore[union-attr]
    with pytest.raises(UserError, match="max_draft"):
        resolve(Speculative(max_draft=0))
    assert resolve(Speculative(exactness="batched")).exactness == "batched"  # type: ignore[union-attr]
    with pytest.raises(UserError, match="'bit-identical' or 'batched', got 'fast'"):
        resolve(Speculative(exactness="fast"))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="speculative= takes"):
        resolve("fast")


def test_draft_clock_leaves_out_the_first_prefill_and_smooths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collab.speculative import draft_sources

    now = iter([0.0, 5.0, 5.4, 10.0, 10.8])  # start, synced, stop; start, stop
    monkeypatch.setattr(draft_sources.time, "perf_counter", lambda: next(now))
    clock = draft_sources.DraftClock()
    clock.start()
    clock.synced()  # the 5 s prefill of the prompt is not a drafting cost
    clock.stop(4)
    assert clock.per_token == pytest.approx(0.1)
    clock.start()
    clock.synced()  # already synced: the timer keeps running from start()
    clock.stop(4)
    assert clock.per_token == pytest.approx(0.7 * 0.1 + 0.3 * 0.2)
