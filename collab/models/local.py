"""``LocalModel``: a GGUF model run in-process by llama.cpp (llama-cpp-python)."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from collab.errors import InvalidOutputError, ModelCallError, UserError
from collab.models.base import AsyncCompletionStream, CompletionStream
from collab.models.local_generation import (
    SAMPLING,
    StreamStats,
    check_sampling,
    eog_checker,
    generate_deltas,
)
from collab.models.local_loading import (
    DEBUG_ENV_VAR,
    chat_setup,
    load_llama,
    positive,
    resolve_model,
)
from collab.models.local_schema import GrammarCache, parse_output
from collab.models.local_scoring import (
    OptionScores,
    check_options,
    option_logprobs,
    softmax,
    split_shared_prefix,
)
from collab.models.local_speculative import (
    SpeculativeCall,
    SpeculativePath,
    context_kwargs,
    finished_completion,
)
from collab.models.local_stream import InlineStream, ModelGate, async_deltas
from collab.models.local_tools import (
    generate_tool_text,
    template_takes_tools,
    tool_messages,
    tool_result,
)
from collab.models.prefix_states import prefix_states
from collab.models.prompt_staging import stage_prompt
from collab.models.tool_calls import ToolRequest, tool_args
from collab.speculative.config import Speculative
from collab.speculative.config import resolve as resolve_speculative
from collab.speculative.draft_sources import DraftSource
from collab.speculative.engine import Tally
from collab.structured import OutputSchema, Schema
from collab.tools import ToolChoice, ToolLike
from collab.types import Completion, ModelKind, Prompt, Usage, normalize_messages

if TYPE_CHECKING:
    from llama_cpp import Llama


__all__ = ["LocalModel", "OptionScores"]

MAX_DEFAULT_N_CTX = 8192
"""Default context cap: a model's training context can be 128k, and the KV cache grows with it."""
EMBED_N_CTX = 1024
"""Context (and batch) of the embedding context: longer texts are truncated to this many tokens."""


class LocalModel:
    """A GGUF model in this process: complete, stream, score options, embed, count tokens.

    ``path_or_name`` is a path when it exists or ends in ``.gguf``, else a catalog name (pulled
    if needed). The file is checked, then loaded at construction: a missing or corrupt file or an
    unknown name raises then. One llama context serves all calls, one at a time: threads and
    coroutines may share a model (async calls decode on worker threads, so the event loop never
    waits on llama.cpp). Embeddings use a second context, created on the first ``embed``.

    ``speculative`` turns on speculative decoding for every generation without a ``schema``:
    ``True`` (prompt lookup), a draft source, or ``Speculative(...)`` (see
    ``collab.speculative``). Greedy output is the target's, token for token, and sampling
    keeps its distribution; completions are then ``SpeculativeCompletion``, with counters.
    A speculative model's context is batch-invariant (flash attention, Q8_0 K cache: see
    ``collab.speculative.INVARIANT_CONTEXT``); ``batch_invariant=True`` gives a plain model
    the same context, so it generates exactly what the speculative one does.

    ``prefix_cache_mb`` keeps the cache's values of recent long prompts (up to that many MB):
    a prompt sharing a long prefix with one asked before, not just the last one, skips that
    prefill (``collab.models.prefix_states``); greedy output does not change. Speculative
    decoding manages its own cache and does not use them.
    """

    kind: ModelKind = "local"

    def __init__(
        self,
        path_or_name: str | Path,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        chat_format: str | None = None,
        seed: int = 0,
        name: str | None = None,
        speculative: Speculative | DraftSource | bool | None = None,
        batch_invariant: bool = False,
        prefix_cache_mb: float = 0,
    ) -> None:
        n_ctx, n_threads = positive("n_ctx", n_ctx), positive("n_threads", n_threads)
        self.prefix_states = prefix_states(prefix_cache_mb)
        settings = resolve_speculative(speculative)
        from collab.models.gguf_file import check_gguf

        path, entry = resolve_model(path_or_name)
        info = check_gguf(path)  # before llama.cpp sees the file: it can crash on a bad one
        self.path = path
        self.name = name or (entry.name if entry is not None else path.stem)
        self.n_ctx = n_ctx or min(info.context_length or MAX_DEFAULT_N_CTX, MAX_DEFAULT_N_CTX)
        self.n_threads = n_threads or os.cpu_count() or 1
        self.seed = seed
        self._seeds = random.Random(seed)
        self._gate = ModelGate()
        self._embed_lock = threading.Lock()
        self._embedder: Llama | None = None
        self._grammars = GrammarCache()
        self._llm: Llama | None = load_llama(
            path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            seed=seed,
            context=context_kwargs(settings, batch_invariant=batch_invariant),
        )
        self._speculative = (
            SpeculativePath(settings, path=path, n_threads=self.n_threads)
            if settings is not None
            else None
        )
        try:
            self._template, self._raw_strings = chat_setup(self._llm, chat_format, entry)
        except BaseException:
            self._llm.close()
            raise

    @classmethod
    def from_catalog(cls, name: str, **kwargs: Any) -> LocalModel:
        """The catalog model ``name``, pulled first if it is not on disk yet."""
        from collab.models.catalog import get_entry

        get_entry(name)  # an unknown name raises here, with suggestions
        return cls(name, **kwargs)

    @property
    def speculative(self) -> Speculative | None:
        """The speculative decoding settings, or None when the model decodes plainly."""
        return self._speculative.settings if self._speculative is not None else None

    @property
    def chat_format(self) -> str | None:
        """How chat messages are rendered: a chat format name, "gguf", or None (no chat)."""
        return self._template.name if self._template is not None else None

    # -- generation ------------------------------------------------------------------------

    def complete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        prediction: str | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion:
        """Complete ``prompt``: chat messages (a string is one user message), or raw text on a
        base model without a chat template. ``schema`` constrains the output by grammar and
        validates it into ``parsed`` (``InvalidOutputError`` keeps the text if it fails).
        ``prediction``, text the output is expected to resemble (a draft of an edit), is a
        draft source for a speculative model's prompt lookup; other models ignore it.
        ``tools`` are shown through the chat template and calls are constrained by grammar
        to valid calls of them (see ``collab.models.local_tools``): ``Completion.tool_calls``."""
        started = time.perf_counter()
        stops = check_sampling(max_tokens, temperature, stop)
        checked = OutputSchema.of(schema) if schema is not None else None
        offered = ToolRequest.of(tools, tool_choice)
        if offered is not None and checked is not None:
            raise UserError(
                "a call takes either schema= or tools=, not both",
                hint="offer the schema as a tool's parameters, or drop the tools",
            )
        tokens, template_stops = self._prompt_tokens(prompt, offered)

        if offered is not None and offered.choice != "none":
            return self._complete_tools(
                tokens, stops + template_stops, max_tokens, temperature, offered, started
            )
        return self._complete_tokens(
            tokens,
            stops + template_stops,
            max_tokens,
            temperature,
            checked,
            started,
            SpeculativeCall(prompt, isinstance(prompt, str) and self._raw_strings, prediction),
        )

    def complete_text(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
    ) -> Completion:
        """Continue ``prompt`` as raw text, with no chat template, on any model."""
        started = time.perf_counter()
        stops = check_sampling(max_tokens, temperature, stop)
        checked = OutputSchema.of(schema) if schema is not None else None
        tokens = self._encode(prompt, add_bos=True)
        return self._complete_tokens(
            tokens,
            stops,
            max_tokens,
            temperature,
            checked,
            started,
            SpeculativeCall(prompt, raw=True),
        )

    async def acomplete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        schema: Schema | None = None,
        prediction: str | None = None,
        tools: list[ToolLike] | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> Completion:
        """``complete`` on a worker thread."""
        return await asyncio.to_thread(
            partial(
                self.complete,
                prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=stop,
                schema=schema,
                prediction=prediction,
                **tool_args(tools, tool_choice),
            )
        )

    def stream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        prediction: str | None = None,
    ) -> CompletionStream:
        """Text deltas as they are decoded; ``.completion`` (with usage) once exhausted.
        ``prediction`` as for ``complete``."""

        produce, finish = self._stream_parts(prompt, max_tokens, temperature, stop, prediction)
        return CompletionStream(InlineStream(produce, self._gate), finish)

    def astream(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        prediction: str | None = None,
    ) -> AsyncCompletionStream:
        """Async twin of ``stream``: decoding runs on a worker thread."""

        produce, finish = self._stream_parts(prompt, max_tokens, temperature, stop, prediction)
        return AsyncCompletionStream(async_deltas(produce, self._gate), finish)

    # -- scoring, embeddings, tokens -------------------------------------------------------

    def score(self, prompt: Prompt, options: list[str]) -> list[float]:
        """Probability of each option as the continuation of ``prompt`` (on a chat model: as
        the start of the reply), normalised over the options: sums to 1."""
        return list(self.score_detailed(prompt, options).probs)

    def score_detailed(self, prompt: Prompt, options: list[str]) -> OptionScores:
        """``score`` with each option's raw log-probability and scored token count."""
        options = check_options(options)
        text, add_bos, _ = self._prompt_text(prompt)
        prompt_tokens = self._encode(text, add_bos=add_bos)
        full = [self._encode(text + option, add_bos=add_bos) for option in options]
        try:
            shared, tails = split_shared_prefix(prompt_tokens, full)
        except ValueError:
            raise UserError(
                f"cannot score options after prompt {text[:80]!r}: it has no token of its own",
                hint="put some context in the prompt before the options",
            ) from None
        self._check_fits(len(shared) + max(len(tail) for tail in tails))
        with self._gate.hold():
            logprobs = option_logprobs(self._live(), shared, tails)
        return OptionScores(
            tuple(options), tuple(logprobs), tuple(softmax(logprobs)), tuple(map(len, tails))
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised embeddings; texts past ``EMBED_N_CTX`` tokens are cut."""
        if isinstance(texts, str) or not all(isinstance(t, str) and t for t in texts):
            raise UserError(
                f"embed takes a list of non-empty strings, got {texts!r:.100}",
                hint='pass e.g. ["first text", "second text"]',
            )
        self._live()
        if not texts:
            return []
        with self._embed_lock:
            if self._embedder is None:
                self._embedder = load_llama(
                    self.path,
                    n_ctx=min(self.n_ctx, EMBED_N_CTX),
                    n_threads=self.n_threads,
                    seed=self.seed,
                    embedding=True,
                )
            return self._embedder.embed(list(texts), normalize=True)  # type: ignore[no-any-return]

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as plain text (no BOS, special-token markup not parsed)."""
        return self._live().tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is (as ``tokenize``)."""
        return len(self.tokenize(text))

    def count_prompt_tokens(self, prompt: Prompt) -> int:
        """Exactly the tokens ``complete`` feeds the model for ``prompt``, template included."""
        return len(self._prompt_tokens(prompt)[0])

    def prompt_tokens(self, prompt: Prompt, *, raw: bool = False) -> list[int]:
        """The tokens ``complete`` (or, with ``raw``, ``complete_text``) feeds the model."""
        if raw:
            if not isinstance(prompt, str):
                raise UserError("a raw prompt is a string", hint="pass the text to continue")
            return self._encode(prompt, add_bos=True)
        return self._prompt_tokens(prompt)[0]

    @contextmanager
    def hold(self) -> Iterator[Llama]:
        """The llama-cpp-python ``Llama`` behind this model, locked for the ``with`` block:
        for code that drives llama.cpp directly (speculative drafters). Other calls wait."""
        with self._gate.hold():
            yield self._live()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Free the model and its contexts; later calls raise ``UserError``."""
        with self._gate.hold():
            if self._llm is not None:
                self._llm.close()
                self._llm = None
        with self._embed_lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "" if self._llm is not None else ", closed"
        if self._speculative is not None:
            state = f", speculative={self._speculative.source_name!r}{state}"
        return f"LocalModel({self.name!r}, n_ctx={self.n_ctx}{state})"

    # -- internals -------------------------------------------------------------------------

    def _live(self) -> Llama:
        if self._llm is None:
            raise UserError(f"LocalModel {self.name!r} is closed", hint="create a new LocalModel")
        return self._llm

    def _next_seed(self) -> int:
        """A fresh sampling seed per call (the caller holds the lock): repeated sampled calls
        differ, and a run's sequence of calls is reproducible from ``seed``."""
        return self._seeds.randrange(2**32)

    def _encode(self, text: str, *, add_bos: bool) -> list[int]:
        # special=True: rendered templates carry markup like <|im_start|> as text.
        return self._live().tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def _prompt_text(
        self, prompt: Prompt, offered: ToolRequest | None = None
    ) -> tuple[str, bool, list[str]]:
        """The text the model continues, whether to add BOS, and the format's stop strings."""
        if isinstance(prompt, str) and self._raw_strings and offered is None:
            return prompt, True, []
        if self._template is None:
            raise UserError(
                f"model {self.name!r} has no chat template, so it cannot take chat messages",
                hint="pass chat_format= (e.g. 'gemma' or 'chatml') to LocalModel, "
                "or use complete_text() for raw completion",
            )
        messages, specs = normalize_messages(prompt), None
        if offered is not None:
            native = template_takes_tools(self._template)
            messages, specs = tool_messages(messages, offered, native=native)
        rendered = self._template.render(messages, tools=specs)
        return rendered.text, rendered.add_bos, list(rendered.stop)

    def _prompt_tokens(
        self, prompt: Prompt, offered: ToolRequest | None = None
    ) -> tuple[list[int], list[str]]:
        """Prompt tokens and the chat format's stop strings."""
        text, add_bos, stops = self._prompt_text(prompt, offered)
        return self._encode(text, add_bos=add_bos), stops

    def _check_fits(self, n_prompt: int) -> None:
        if n_prompt == 0:
            raise UserError("the prompt is empty", hint="pass some text to complete")
        if n_prompt >= self.n_ctx:
            raise UserError(
                f"prompt of {n_prompt} tokens does not fit {self.name!r}'s context of "
                f"{self.n_ctx} tokens",
                hint="shorten the prompt, or pass a larger n_ctx= to LocalModel",
            )

    def _complete_tokens(
        self,
        tokens: list[int],
        stops: list[str],
        max_tokens: int,
        temperature: float,
        checked: OutputSchema | None,
        started: float,
        speculative: SpeculativeCall,
    ) -> Completion:
        self._check_fits(len(tokens))
        if self._speculative is not None and checked is None:
            return self._complete_speculative(
                tokens, stops, max_tokens, temperature, started, speculative
            )
        with self._gate.hold():
            llm = self._live()
            grammar = self._grammars.get(checked, llm) if checked is not None else None
            try:
                stage_prompt(llm, tokens, self.prefix_states)
                out: Any = llm.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=stops,
                    seed=self._next_seed(),
                    grammar=grammar,
                    **SAMPLING,
                )
            except (RuntimeError, ValueError) as exc:
                raise ModelCallError(
                    f"llama.cpp failed on {self.name!r}: {exc}",
                    hint=f"set {DEBUG_ENV_VAR}=1 to see llama.cpp's log",
                ) from None
        choice, usage = out["choices"][0], out["usage"]
        completion = Completion(
            text=choice["text"],
            model=self.name,
            kind=self.kind,
            usage=Usage(
                prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"]
            ),
            latency_s=time.perf_counter() - started,
            cost_usd=0.0,
            finish_reason=choice["finish_reason"],
        )
        if checked is not None:
            try:
                completion.parsed = parse_output(checked, completion, max_tokens)
            except InvalidOutputError as error:
                error.billed = completion  # type: ignore[attr-defined]  (the meter settles it)
                raise
        return completion

    def _complete_tools(
        self,
        tokens: list[int],
        stops: list[str],
        max_tokens: int,
        temperature: float,
        offered: ToolRequest,
        started: float,
    ) -> Completion:
        self._check_fits(len(tokens))
        stats = StreamStats()
        with self._gate.hold():
            llm = self._live()
            try:
                text, _ = generate_tool_text(
                    llm,
                    tokens,
                    offered,
                    stops=stops,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=self._next_seed(),
                    stats=stats,
                )
            except RuntimeError as exc:  # llama_decode failed
                raise ModelCallError(
                    f"llama.cpp failed on {self.name!r}: {exc}",
                    hint=f"set {DEBUG_ENV_VAR}=1 to see llama.cpp's log",
                ) from None
        content, calls = tool_result(text, offered)
        return Completion(
            text=content,
            model=self.name,
            kind=self.kind,
            usage=Usage(
                prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens
            ),
            latency_s=time.perf_counter() - started,
            cost_usd=0.0,
            finish_reason="tool_calls"
            if calls and stats.finish_reason == "stop"
            else stats.finish_reason,
            tool_calls=calls,
        )

    def _complete_speculative(
        self,
        tokens: list[int],
        stops: list[str],
        max_tokens: int,
        temperature: float,
        started: float,
        speculative: SpeculativeCall,
    ) -> Completion:
        assert self._speculative is not None
        stats = StreamStats()
        with self._gate.hold():
            llm = self._live()
            deltas, tally = self._speculative.deltas(
                llm, tokens, stops, max_tokens, temperature, self._next_seed(), stats, speculative
            )
            try:
                text = "".join(deltas)
            except RuntimeError as exc:  # llama_decode failed
                raise ModelCallError(
                    f"llama.cpp failed on {self.name!r}: {exc}",
                    hint=f"set {DEBUG_ENV_VAR}=1 to see llama.cpp's log",
                ) from None
        return finished_completion(self, text, stats, started, tally)

    def _stream_parts(
        self,
        prompt: Prompt,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        prediction: str | None,
    ) -> tuple[Callable[[], Iterator[str]], Callable[[str], Completion]]:
        """The worker's producer and the finishing function of one stream."""
        started = time.perf_counter()
        stops = check_sampling(max_tokens, temperature, stop)
        tokens, template_stops = self._prompt_tokens(prompt)
        stops = stops + template_stops
        self._check_fits(len(tokens))
        stats = StreamStats()
        tallies: list[Tally] = []

        def produce() -> Iterator[str]:
            llm = self._live()
            if self._speculative is None:
                stage_prompt(llm, tokens, self.prefix_states)
                return generate_deltas(
                    llm,
                    tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=stops,
                    seed=self._next_seed(),
                    stats=stats,
                    is_eog=eog_checker(llm),
                )
            raw = isinstance(prompt, str) and self._raw_strings
            call = SpeculativeCall(prompt, raw, prediction)
            deltas, tally = self._speculative.deltas(
                llm, tokens, stops, max_tokens, temperature, self._next_seed(), stats, call
            )
            tallies.append(tally)
            return deltas

        def finish(text: str) -> Completion:
            return finished_completion(self, text, stats, started, tallies[0] if tallies else None)

        return produce, finish
