"""Hostile input as properties (hypothesis): any prompt, schema, sampling setting or model file
gives a valid result or a clear ``CollabError``, never a crash or a raw exception."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collab.errors import (
    CollabError,
    InvalidOutputError,
    ModelFileCorruptError,
    SchemaError,
    UserError,
)
from collab.models.sampling import check_sampling
from collab.models.scripted import ScriptedModel
from collab.structured import OutputSchema
from collab.types import Completion, normalize_messages
from tests.unit.test_gguf_file import make_gguf

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

any_text = st.text(st.characters(exclude_categories=()), max_size=200)
"""Any code point: surrogates and control characters included."""
roles = st.sampled_from(["system", "user", "assistant", "tool", "wizard", "", None, 3])
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": roles, "content": st.one_of(any_text, st.none())}),
        any_text,
        st.none(),
    ),
    max_size=4,
)
prompts = st.one_of(any_text, messages, st.none(), st.integers())


def _answer(model: ScriptedModel, prompt: Any) -> Completion | CollabError:
    try:
        return model.complete(prompt, max_tokens=8)
    except CollabError as error:
        assert error.message
        return error


@FAST
@given(prompts)
def test_any_prompt_gives_a_completion_or_a_collab_error(prompt: Any) -> None:
    result = _answer(ScriptedModel(["ok"] * 2), prompt)
    if isinstance(result, Completion):
        assert result.text == "ok"
        for message in normalize_messages(prompt):
            message.content.encode("utf-8")  # what was accepted can be sent and tokenised


@pytest.mark.slow
@SLOW
@given(prompts)
def test_any_prompt_renders_with_a_real_chat_template_or_is_refused(prompt: Any) -> None:
    from collab.models.chat_prompt import ChatTemplate

    try:
        rendered = ChatTemplate.named("chatml").render(normalize_messages(prompt))
    except CollabError as error:
        assert error.message
        return
    rendered.text.encode("utf-8")


@pytest.mark.slow
@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=1_000_000, max_value=4_000_000), st.sampled_from(["a", "\x00", "é"]))
def test_huge_prompts_are_answered(size: int, char: str) -> None:
    assert ScriptedModel(["ok"]).complete(char * size, max_tokens=4).text == "ok"


# -- schemas --------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True, width=32)
)
leaf_schemas = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={"minimum": numbers, "maximum": numbers, "exclusiveMinimum": numbers},
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "strng", 3])},
        optional={
            "enum": st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
            "minLength": st.integers(-2, 5),
            "maxLength": st.integers(-2, 5),
            "pattern": st.sampled_from(["^a+$", "[", "(x|y)*"]),
        },
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["boolean", "null"])}),
    st.fixed_dictionaries({"enum": st.lists(st.integers(), max_size=2)}),
)
schemas = st.recursive(
    leaf_schemas,
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.dictionaries(st.text(max_size=4), inner)},
            optional={"required": st.lists(st.text(max_size=4), max_size=2)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("array"), "items": inner},
            optional={"minItems": st.integers(0, 3), "maxItems": st.integers(0, 3)},
        ),
        st.fixed_dictionaries({"anyOf": st.lists(inner, max_size=2)}),
    ),
    max_leaves=6,
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(), inner)),
    max_leaves=5,
)


@FAST
@given(schemas, json_values)
def test_any_schema_is_a_schema_error_or_validates_outputs(
    schema: dict[str, Any], value: Any
) -> None:
    try:
        checked = OutputSchema.of(schema)
    except SchemaError as error:
        assert error.message
        return
    try:
        parsed = checked.validate_text(json.dumps(value))
    except InvalidOutputError as error:
        assert error.text == json.dumps(value)
    else:
        assert parsed == value


# -- sampling -------------------------------------------------------------------------------

odd_values = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@FAST
@given(
    odd_values,
    odd_values,
    st.one_of(st.none(), st.lists(st.one_of(any_text, st.none()), max_size=2)),
)
def test_sampling_parameters_are_accepted_only_when_sane(
    max_tokens: Any, temperature: Any, stop: Any
) -> None:
    try:
        stops = check_sampling(max_tokens, temperature, stop)
    except UserError as error:
        assert error.message and error.hint
        return
    assert type(max_tokens) is int and max_tokens >= 1
    assert not isinstance(temperature, bool) and math.isfinite(temperature) and temperature >= 0
    assert all(isinstance(s, str) and s for s in stops)


# -- model files ----------------------------------------------------------------------------

GOOD = make_gguf(tensors=[("w", [32, 32], 0)])


@FAST
@given(st.integers(0, len(GOOD) - 1))
def test_a_truncated_gguf_is_refused(tmp_path_factory: pytest.TempPathFactory, cut: int) -> None:
    from collab.models.gguf_file import check_gguf

    path = tmp_path_factory.mktemp("gguf") / "cut.gguf"
    path.write_bytes(GOOD[:cut])
    with pytest.raises(ModelFileCorruptError):
        check_gguf(path)


@FAST
@given(st.binary(min_size=4, max_size=4), st.binary(max_size=64))
def test_a_bad_magic_is_refused(
    tmp_path_factory: pytest.TempPathFactory, magic: bytes, junk: bytes
) -> None:
    from collab.models.gguf_file import check_gguf

    assume(magic != b"GGUF")
    path = tmp_path_factory.mktemp("gguf") / "bad.gguf"
    path.write_bytes(magic + GOOD[4:] + junk)
    with pytest.raises(ModelFileCorruptError):
        check_gguf(path)


@FAST
@given(st.integers(0, 2), st.integers(2**20, 2**64 - 1))
def test_absurd_counts_and_sizes_are_refused_fast(
    tmp_path_factory: pytest.TempPathFactory, field: int, value: int
) -> None:
    """A header claiming billions of tensors, metadata pairs or a huge string is refused
    without reading (or allocating) what it claims."""
    from collab.models.gguf_file import check_gguf

    data = bytearray(GOOD)
    if field < 2:  # n_tensors at 8, n_kv at 16
        struct.pack_into("<Q", data, 8 + 8 * field, value)
    else:  # the length of the first key
        struct.pack_into("<Q", data, 24, value)
    path = tmp_path_factory.mktemp("gguf") / "absurd.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileCorruptError):
        check_gguf(path)


@FAST
@given(st.binary(min_size=32, max_size=32))
def test_a_catalog_sha256_mismatch_is_refused(
    tmp_path_factory: pytest.TempPathFactory, digest: bytes
) -> None:
    from collab.models import catalog
    from collab.models import model_files as sources

    expected = hashlib.sha256(GOOD).hexdigest()
    assume(digest.hex() != expected)
    path = tmp_path_factory.mktemp("pull") / "model.gguf.partial"
    path.write_bytes(GOOD)
    entry = catalog.CatalogEntry(
        name="prop-test",
        description="synthetic",
        source=sources.LocalPathSource(path),
        filename="model.gguf",
        size_bytes=len(GOOD),
        sha256=digest.hex(),
    )
    with pytest.raises(ModelFileCorruptError, match="expected " + digest.hex()):
        catalog._check_pulled(entry, path, expected)
    good = catalog.CatalogEntry(
        name="prop-test",
        description="synthetic",
        source=sources.LocalPathSource(path),
        filename="model.gguf",
        size_bytes=len(GOOD),
        sha256=expected,
    )
    catalog._check_pulled(good, path, expected)  # the right digest passes
