"""Output schemas on llama.cpp: a JSON schema as a sampling grammar, and checking the result."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from collab.errors import InvalidOutputError, SchemaError
from collab.structured import OutputSchema
from collab.types import Completion

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

__all__ = ["GrammarCache", "parse_output"]


class GrammarCache:
    """llama.cpp grammars for output schemas, converted once per distinct schema."""

    def __init__(self) -> None:
        self._grammars: dict[str, LlamaGrammar] = {}
        self._lock = threading.Lock()

    def get(self, checked: OutputSchema, llm: Llama) -> LlamaGrammar:
        """The grammar for ``checked``; ``SchemaError`` if llama.cpp cannot express it, or
        cannot parse what its converter made of it (``llm`` parses it once, up front: a grammar
        that fails to parse would crash the process in sampling)."""
        from llama_cpp.llama_grammar import LlamaGrammar

        key = json.dumps(checked.json_schema, sort_keys=True)
        with self._lock:
            grammar = self._grammars.get(key)
        if grammar is None:
            try:
                grammar = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:  # the converter raises bare Exceptions on what it lacks
                raise SchemaError(
                    f"llama.cpp cannot turn schema {checked.name!r} into a grammar: {exc}",
                    hint="simplify the schema (e.g. drop $refs to outside definitions)",
                ) from None
            _check_parses(grammar, checked, llm)
            with self._lock:
                self._grammars[key] = grammar
        return grammar


def _check_parses(grammar: LlamaGrammar, checked: OutputSchema, llm: Llama) -> None:
    """Parse ``grammar`` with llama.cpp; ``SchemaError`` if it fails. llama-cpp-python adds a
    grammar that fails to parse to its sampler chain as NULL, which segfaults."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(
        llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        raise SchemaError(
            f"llama.cpp cannot parse the grammar of schema {checked.name!r}",
            hint="simplify the schema (enums, patterns and bounds are the usual culprits)",
        )
    llama_cpp.llama_sampler_free(sampler)


def parse_output(checked: OutputSchema, completion: Completion, max_tokens: int) -> Any:
    """The validated object of a constrained completion; ``InvalidOutputError`` keeps the text
    and says when the output was cut off by ``max_tokens``."""
    try:
        return checked.validate_text(completion.text)
    except InvalidOutputError as exc:
        if completion.finish_reason != "length":
            raise
        raise InvalidOutputError(
            f"{exc.message} (generation stopped at max_tokens={max_tokens})",
            text=exc.text,
            hint=f"raise max_tokens above {max_tokens}",
        ) from None
