"""Every pattern's graph declares typed input and output JSON schemas (Python 3.11 included)."""

from __future__ import annotations

from typing import Any

import pytest

from collab.models.scripted import ScriptedModel
from collab.patterns import (
    cascade,
    draft_verify,
    llm_judges_slm,
    plan_execute,
    router,
    slm_judges_llm,
    speculative,
)

BUILDERS: dict[str, Any] = {
    "cascade": cascade.build,
    "router": router.build,
    "draft_verify": draft_verify.build,
    "llm_judges_slm": llm_judges_slm.build,
    "slm_judges_llm": slm_judges_llm.build,
    "speculative": speculative.build,
    "plan_execute": plan_execute.build,
}
INPUTS = {
    "cascade": ({"question"}, {"question"}),
    "router": ({"question"}, {"question"}),
    "draft_verify": ({"question"}, {"question"}),
    "llm_judges_slm": ({"question", "reference"}, {"question"}),
    "slm_judges_llm": ({"question", "sources"}, {"question"}),
    "speculative": ({"question", "document"}, {"question", "document"}),
    "plan_execute": ({"question"}, {"question"}),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_input_schema_lists_what_the_pattern_takes(name: str) -> None:
    graph = BUILDERS[name](slm=ScriptedModel(["x"]), llm=ScriptedModel(["y"]))
    schema = graph.get_input_jsonschema()
    properties, required = INPUTS[name]
    assert set(schema["properties"]) == properties
    assert set(schema.get("required", [])) == required
    assert schema["properties"]["question"]["type"] == "string"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_output_schema_gives_the_answer_and_the_call_records(name: str) -> None:
    graph = BUILDERS[name](slm=ScriptedModel(["x"]), llm=ScriptedModel(["y"]))
    properties = graph.get_output_jsonschema()["properties"]
    assert {"answer", "answered_by", "verdicts", "details", "collab_calls"} <= set(properties)
    assert properties["answer"]["type"] == "string"
    assert properties["collab_calls"]["type"] == "array"
    assert "collab_run" not in properties and "question" not in properties
