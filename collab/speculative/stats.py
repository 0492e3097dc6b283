"""What one speculative generation did: drafted, accepted, target decodes, estimated speed-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from collab.types import Completion

__all__ = ["SpeculationStats", "SpeculativeCompletion"]


class SpeculationStats(BaseModel):
    """Counters of one speculative generation (one ``complete`` or one stream)."""

    model_config = ConfigDict(frozen=True)

    source: str
    """The draft source: "prompt-lookup", "draft-model:<name>", "cross-vocab:<name>"."""
    tokens: int = 0
    """Tokens generated (as the target would have, one by one)."""
    drafted: int = 0
    """Draft tokens the target verified."""
    accepted: int = 0
    """Draft tokens the target confirmed."""
    target_decodes: int = 0
    """Target forward passes (plain decoding needs one per token)."""
    speculated: int = 0
    """Target decodes that carried a draft (the others decoded one token, as plain does)."""
    max_batch: int = 0
    """Largest verification batch allowed (llama.cpp's kernels are bit-identical up to it)."""
    decode_s: float = 0.0
    """Seconds spent in target decodes and drafting."""
    est_speedup: float | None = None
    """Estimated time of plain decoding of the same tokens over ``decode_s`` (from the
    measured cost of a one-token decode on this machine); ``None`` before it is known."""

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted over drafted draft tokens; ``None`` when nothing was drafted."""
        return self.accepted / self.drafted if self.drafted else None

    @property
    def tokens_per_decode(self) -> float | None:
        """Tokens per target forward pass (1.0 is plain decoding)."""
        return self.tokens / self.target_decodes if self.target_decodes else None


class SpeculativeCompletion(Completion):
    """A ``Completion`` from a speculative ``LocalModel``, with what speculation did."""

    speculation: SpeculationStats | None = None
