"""``SpeculativeDecoder``: what a ``LocalModel`` built with ``speculative=`` generates with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from collab.speculative.config import Speculative
from collab.speculative.context import Context, fingerprint
from collab.speculative.draft_sources import DraftRequest, DraftSource, TargetVocab
from collab.speculative.engine import Tally, generate
from collab.speculative.invariance import probe_batches
from collab.speculative.lookup import PromptLookup
from collab.speculative.schedule import CostModel, Schedule
from collab.speculative.verify import Sampler
from collab.types import Prompt

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["SpeculativeDecoder", "target_vocab"]


class SpeculativeDecoder:
    """Speculative generation on one llama context, with costs learned across calls."""

    def __init__(self, settings: Speculative, *, key: tuple[object, ...]) -> None:
        self.settings = settings
        self.source: DraftSource = settings.draft if settings.draft is not None else PromptLookup()
        self._key = key
        self._costs = CostModel()
        self._sizes: tuple[int, ...] | None = None

    def batch_sizes(self, llm: Llama) -> tuple[int, ...]:
        """Verification batch sizes allowed on ``llm`` (probed on first use, which also seeds
        the cost model with timed decodes; the caller holds the model's lock)."""
        if self._sizes is None:
            exact = self.settings.exactness == "bit-identical"
            probe = probe_batches(llm, self.settings.max_draft + 1, key=self._key, exact=exact)
            for timings in probe.rounds:  # smallest size first: each batch against its round
                for n, seconds in sorted(timings.items()):
                    self._costs.observe(n, seconds)
            self._sizes = probe.sizes
        return self._sizes

    def start(
        self,
        llm: Llama,
        tokens: Sequence[int],
        *,
        prompt: Prompt | None,
        raw: bool,
        prediction: list[int] | None = None,
        max_tokens: int,
        temperature: float,
        top_k: int,
        top_p: float,
        min_p: float,
        seed: int,
        vocab: TargetVocab,
    ) -> tuple[Iterator[int], Tally]:
        """The tokens of one completion and its live counters (the caller holds the lock)."""
        import numpy as np

        sizes = self.batch_sizes(llm)
        sampler = None
        if temperature > 0:
            sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
        rng = np.random.default_rng(seed)
        request = DraftRequest(
            prompt_tokens=list(tokens),
            prompt=prompt,
            raw=raw,
            prediction=prediction,
            sampler=sampler,
            vocab=vocab,
            rng=rng,
        )
        session = self.source.session(request)
        schedule = Schedule(
            max_draft=self.settings.max_draft, adaptive=self.settings.adaptive, costs=self._costs
        )
        tally = Tally(source=self.source.name, max_batch=max(sizes), costs=self._costs)
        tokens_out = generate(
            Context(llm),
            tokens,
            session=session,
            free_drafts=self.source.free,
            schedule=schedule,
            batch_sizes=sizes,
            max_tokens=max_tokens,
            sampler=sampler,
            rng=rng,
            tally=tally,
        )
        return tokens_out, tally


def target_vocab(llm: Llama) -> TargetVocab:
    """``llm``'s tokenizer as drafters see it."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    eot = int(llama_cpp.llama_vocab_eot(vocab))
    eos = int(llama_cpp.llama_vocab_eos(vocab))
    end_of_turn = eot if eot >= 0 else eos if eos >= 0 else None
    return TargetVocab(
        tokenize=lambda text: llm.tokenize(text, add_bos=False, special=False),
        detokenize=lambda tokens: llm.detokenize(list(tokens)),
        is_eog=lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token)),
        end_of_turn=end_of_turn,
        n_vocab=llm.n_vocab(),
        fingerprint=fingerprint(llm),
    )
