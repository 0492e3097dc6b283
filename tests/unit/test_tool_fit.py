"""A call of one tool when another offered one fits the request clearly better."""

from __future__ import annotations

import pytest
from collab.patterns.tool_caller import call_tools, grounded_check
from collab.patterns.tool_fit import better_fitting_tool

from collab import tool
from collab.models.scripted import ScriptedModel
from collab.types import Completion, ToolCall

pytest.importorskip("bm25s")


@tool
def electromagnetism_ampere_law(radius: float) -> float:
    """Calculate the enclosed current of a loop from Ampere's circuital law."""
    return radius


@tool
def electromagnetism_biot_savart_law(distance: float) -> float:
    """Calculate the magnetic field strength at a distance from a current."""
    return distance


AMPERE, BIOT_SAVART = electromagnetism_ampere_law, electromagnetism_biot_savart_law
TOOLS = [AMPERE, BIOT_SAVART]
REQUEST = "Calculate the strength of magnetic field given distance is 8 meters and current is 12 A."


def _call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="c0", name=name, arguments=arguments)


def test_a_tool_that_fits_the_request_clearly_better_is_named() -> None:
    error = better_fitting_tool(
        [_call("electromagnetism_ampere_law")], REQUEST, [AMPERE, BIOT_SAVART]
    )
    assert error is not None and "electromagnetism_biot_savart_law fits it better" in error
    assert "magnetic field strength" in error  # its description, for the repair
    assert (
        better_fitting_tool(
            [_call("electromagnetism_biot_savart_law")], REQUEST, [AMPERE, BIOT_SAVART]
        )
        is None
    )


def test_no_verdict_with_one_tool_no_call_or_a_close_fit() -> None:
    assert better_fitting_tool([_call("electromagnetism_ampere_law")], REQUEST, [AMPERE]) is None
    assert better_fitting_tool([], REQUEST, TOOLS) is None
    # With a margin no fit can clear, every call passes.
    wrong = [_call("electromagnetism_ampere_law")]
    assert better_fitting_tool(wrong, REQUEST, TOOLS, margin=1e9) is None


def test_the_grounded_check_with_tool_fit_repairs_the_slms_choice() -> None:
    ampere = _call("electromagnetism_ampere_law", radius=8)
    slm = ScriptedModel([ampere, _call("electromagnetism_biot_savart_law", distance=8)])
    turns = call_tools(
        REQUEST,
        TOOLS,
        slm=slm,
        llm=ScriptedModel([]),
        max_tokens=64,
        max_repairs=1,
        llm_attempts=1,
        check=grounded_check(REQUEST, TOOLS, tool_fit=True),
    )
    assert turns.ok and not turns.escalated and turns.repairs == 1
    assert [c.name for c in turns.calls] == ["electromagnetism_biot_savart_law"]
    assert "fits it better" in (turns.turns[0].error or "")
    # Without tool_fit, the first choice stands.
    first = Completion(text="", model="slm", kind="local", tool_calls=(ampere,))
    assert grounded_check(REQUEST, TOOLS)("slm", first) is None
