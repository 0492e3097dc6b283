"""Errors carry a message naming the value and a hint; creating one has no side effects."""

from __future__ import annotations

from collab import CollabError, UnknownModelError, UserError


def test_unknown_model_suggests_close_names() -> None:
    err = UnknownModelError("smolm2", suggestions=["smollm2-135m-instruct"], known=["a", "b"])
    assert isinstance(err, UserError) and isinstance(err, CollabError)
    assert err.message == "unknown model 'smolm2'"
    assert "did you mean 'smollm2-135m-instruct'" in err.hint
    assert "(hint: " in str(err)


def test_hint_defaults_to_class_hint_and_can_be_overridden() -> None:
    from collab import SchemaError

    assert "pydantic" in SchemaError("bad").hint
    assert SchemaError("bad", hint="do X").hint == "do X"
    assert str(CollabError("plain")) == "plain"
