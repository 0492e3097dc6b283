"""Drafting with a model whose vocabulary differs from the target's: drafts travel as text.

After "universal assisted generation" (Timor et al., 2025): the drafter sees the conversation
rendered with its own chat template, followed by the target's generated text re-tokenised
into its vocabulary; its draft is decoded to text and re-tokenised into the target's
vocabulary. The last few target tokens are re-tokenised together with the draft, so a draft
that merges with them at the boundary lines up with how the target would tokenise the text;
the last draft token is dropped unless the drafter ended its turn (it may be half a target
token). The drafter drafts greedily: a text draft is a deterministic proposal, which
speculative sampling accepts with the target's own probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collab.models.local_generation import eog_checker
from collab.speculative.context import Context
from collab.speculative.draft_model import top_probability
from collab.speculative.draft_sources import EMPTY, Draft, DraftClock, DraftRequest

if TYPE_CHECKING:
    from collab.models.local import LocalModel

__all__ = ["CrossVocabDraft"]

_OVERLAP = 3
"""Target tokens re-tokenised together with each draft, to line up the boundary."""


@dataclass(frozen=True)
class CrossVocabDraft:
    """A draft model with any vocabulary, e.g. SmolLM2 drafting for gemma-3."""

    model: LocalModel
    stop_below: float = 0.3
    """Stop drafting at a token the drafter gives less probability than this (0: never)."""

    @property
    def name(self) -> str:
        return f"cross-vocab:{self.model.name}"

    @property
    def free(self) -> bool:
        return False

    def session(self, request: DraftRequest) -> CrossVocabSession:
        if request.prompt is not None:
            prompt_tokens = self.model.prompt_tokens(request.prompt, raw=request.raw)
        else:  # only tokens are known: their text, without this drafter's chat template
            text = request.vocab.detokenize(request.prompt_tokens).decode("utf-8", "ignore")
            prompt_tokens = self.model.prompt_tokens(text, raw=True)
        return CrossVocabSession(self, request, prompt_tokens)


class CrossVocabSession:
    """One generation's drafting: the drafter's own context, kept in step as text."""

    def __init__(
        self, source: CrossVocabDraft, request: DraftRequest, prompt_tokens: list[int]
    ) -> None:
        self._model = source.model
        self._stop_below = source.stop_below
        self._request = request
        self._prompt_tokens = prompt_tokens
        self._n_target_prompt = len(request.prompt_tokens)
        self._clock = DraftClock()

    @property
    def cost_per_token(self) -> float:
        return self._clock.per_token

    def propose(self, context: Sequence[int], limit: int) -> Draft:
        if limit <= 0:
            return EMPTY
        self._clock.start()
        vocab = self._request.vocab
        generated = list(context[self._n_target_prompt :])
        try:
            text = vocab.detokenize(generated).decode("utf-8")
        except UnicodeDecodeError:
            return EMPTY  # mid-character: draft once the character is complete
        with self._model.hold() as llm:
            ctx = Context(llm)
            mine = self._prompt_tokens + llm.tokenize(
                text.encode("utf-8"), add_bos=False, special=False
            )
            budget = limit + 2  # drafter tokens are often shorter than the target's
            if len(mine) + budget > ctx.n_ctx:
                return EMPTY
            row = ctx.prefill(mine)
            self._clock.synced()
            is_eog = eog_checker(llm)
            drafted: list[int] = []
            ended = False
            for i in range(budget):
                token = int(row.argmax())
                if is_eog(token):
                    ended = True
                    break
                drafted.append(token)
                if i + 1 == budget or top_probability(row) < self._stop_below:
                    break
                row = ctx.decode([token])[0]
            draft_text = llm.detokenize(drafted)
        tokens = self._to_target(generated, draft_text)
        if not ended:
            tokens = tokens[:-1]  # the drafter may have stopped half-way through a target token
        elif vocab.end_of_turn is not None:
            tokens.append(vocab.end_of_turn)
        tokens = tokens[:limit]
        self._clock.stop(len(tokens))
        return Draft(tokens, kind="draft") if tokens else EMPTY

    def _to_target(self, generated: list[int], draft_text: bytes) -> list[int]:
        """``draft_text`` in the target's tokens, as they would follow ``generated``."""
        vocab = self._request.vocab
        tail = generated[-_OVERLAP:]
        if tail:
            joined = vocab.tokenize(vocab.detokenize(tail) + draft_text)
            if joined[: len(tail)] == tail:
                return joined[len(tail) :]
        return vocab.tokenize(draft_text)

    def close(self) -> None:
        pass
