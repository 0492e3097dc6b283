"""The speculative edit pattern and example: the SLM drafts only when the LLM can use it."""

from __future__ import annotations

from typing import Any

from collab.patterns.speculative import EditConfig, similarity, unfence

from collab import Run, ScriptedModel
from collab.cli.run_cmd import load_example
from collab.models.local import LocalModel
from collab.models.remote import RemoteModel
from collab.patterns import speculative
from collab.speculative import takes_prediction
from collab.types import Completion, Prompt

DOCUMENT = 'port = 8080\nlevel = "info"\n'
EDITED = 'port = 9090\nlevel = "info"\n'

example = load_example("edit_document")


class PredictingModel(ScriptedModel):
    """A scripted model whose ``complete`` takes a predicted output, and records it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.predictions: list[str | None] = []

    def complete(self, prompt: Prompt, *, prediction: str | None = None, **kw: Any) -> Completion:
        self.predictions.append(prediction)
        return super().complete(prompt, **kw)


def test_the_slm_draft_goes_to_the_llm_as_its_prediction() -> None:
    slm = ScriptedModel([f"```\n{EDITED}```"], name="slm", kind="local")
    llm = PredictingModel([EDITED], name="llm", kind="remote", cost_per_token_usd=0.001)
    with Run() as run:
        result = speculative.build(slm=slm, llm=llm).invoke(
            {"question": "Make the port 9090.", "document": DOCUMENT}
        )
    assert llm.predictions == [EDITED.strip()]  # the draft, without its code fence
    assert result["answer"] == EDITED.strip() and result["answered_by"] == "llm"
    assert result["details"]["predicted"] and result["details"]["draft_similarity"] == 1.0
    assert [(r.node, r.role) for r in run.ledger.records] == [
        ("draft", "drafter"),
        ("edit", "editor"),
    ]
    assert "Make the port 9090." in slm.calls[0][-1].content
    assert DOCUMENT in llm.calls[0][-1].content


def test_without_predicted_outputs_the_slm_drafts_nothing() -> None:
    slm = ScriptedModel([], name="slm", kind="local")  # any call would fail: none scripted
    llm = ScriptedModel([EDITED], name="llm", kind="remote")
    with Run() as run:
        result = speculative.run(DOCUMENT, "Make the port 9090.", slm=slm, llm=llm, run=run)
    assert slm.calls == [] and result.answer == EDITED.strip()
    assert not result.details["predicted"] and result.details["changed"]
    assert [r.node for r in run.ledger.records] == ["edit"]


def test_prediction_can_be_turned_off() -> None:
    slm = ScriptedModel([], name="slm", kind="local")
    llm = PredictingModel([EDITED], name="llm", kind="remote")
    graph = speculative.build(slm=slm, llm=llm, config=EditConfig(predict=False))
    graph.invoke({"question": "Make the port 9090.", "document": DOCUMENT})
    assert llm.predictions == [None] and slm.calls == []


def test_which_models_take_a_prediction() -> None:
    assert takes_prediction(PredictingModel([]))
    assert not takes_prediction(ScriptedModel([]))
    local = LocalModel.__new__(LocalModel)  # no file needed: only ``speculative`` is read
    local._speculative = None
    assert not takes_prediction(local)  # a plain LocalModel ignores predictions
    openai = RemoteModel("openai/gpt-4o-mini", api_key="sk-test")
    anthropic = RemoteModel("anthropic/claude-3-5-sonnet-20240620", api_key="sk-test")
    assert takes_prediction(openai) and not takes_prediction(anthropic)


def test_unfence_and_similarity() -> None:
    assert unfence("```toml\na = 1\n```", "a = 0") == "a = 1"
    assert unfence("```\na\n```", "```\nb\n```") == "```\na\n```"  # the document was fenced
    assert unfence("  plain  ", "x") == "plain"
    assert similarity("abcd", "abcd") == 1.0 and similarity("abcd", "wxyz") == 0.0


def test_the_example_graph_and_its_report_lines() -> None:
    slm = ScriptedModel([EDITED], name="slm", kind="local")
    llm = PredictingModel([EDITED], name="llm", kind="remote")
    with Run():
        final = example.build_graph(slm, llm).invoke(
            {"question": "Make the port 9090.", "document": DOCUMENT}
        )
    lines = example.draft_lines(final)
    assert "100% of the LLM's edit" in lines[0]
    assert example.diff(DOCUMENT, final["answer"]).count("+port = 9090") == 1
    llm = PredictingModel([EDITED], name="llm", kind="remote")
    with Run():
        alone = example.build_graph(slm, llm, predict=False).invoke(
            {"question": "Make the port 9090.", "document": DOCUMENT}
        )
    assert example.draft_lines(alone)[0].startswith("no draft")
