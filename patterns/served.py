"""Every pattern as a graph factory for LangGraph's server (``langgraph.json`` lists them).

``langgraph dev`` (and LangGraph Platform) calls a factory with each run's config; the
factory builds the pattern from configuration alone (``collab.serving``: models by catalog
name or LiteLLM string, opened once per process; the budget from ``COLLAB_BUDGET_*``,
tightened by the client's ``configurable.budget``; the pattern's knobs from
``configurable.pattern``, e.g. ``{"threshold": 0.3}``) and gives the graph a ``Run`` of its
own, so every served run is metered under its budget and returns the records of its calls
in ``collab_calls``.

    from langgraph_sdk import get_client
    client = get_client(url="http://127.0.0.1:2024")
    out = await client.runs.wait(None, "cascade", input={"question": "What is 17 * 23?"},
                                 config={"configurable": {"budget": {"usd": 0.01}}})
    out["answer"], out["collab_calls"]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from collab.budget.run import Run
from collab.errors import UserError
from collab.graph import RUN_CONFIG_KEY
from collab.serving import served_budget, served_models

from . import cascade as _cascade
from . import draft_verify as _draft_verify
from . import llm_judges_slm as _llm_judges_slm
from . import minions as _minions
from . import plan_execute as _plan_execute
from . import privacy_guard as _privacy_guard
from . import rag as _rag
from . import router as _router
from . import slm_judges_llm as _slm_judges_llm
from . import speculative as _speculative

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.pregel import Pregel

__all__ = [
    "PATTERNS",
    "cascade",
    "draft_verify",
    "llm_judges_slm",
    "minions",
    "plan_execute",
    "privacy_guard",
    "rag",
    "router",
    "serve",
    "slm_judges_llm",
    "speculative_edit",
]

Builder = Callable[..., Any]

PATTERNS: dict[str, tuple[Builder, type[BaseModel]]] = {
    "cascade": (_cascade.build, _cascade.CascadeConfig),
    "router": (_router.build, _router.RouterConfig),
    "draft_verify": (_draft_verify.build, _draft_verify.DraftVerifyConfig),
    "slm_judges_llm": (_slm_judges_llm.build, _slm_judges_llm.JudgedAnswerConfig),
    "llm_judges_slm": (_llm_judges_slm.build, _llm_judges_slm.GradingConfig),
    "speculative_edit": (_speculative.build, _speculative.EditConfig),
    "minions": (_minions.build, _minions.MinionsConfig),
    "privacy_guard": (_privacy_guard.build, _privacy_guard.PrivacyGuardConfig),
    "plan_execute": (_plan_execute.build, _plan_execute.PlanExecuteConfig),
    "rag": (_rag.build, _rag.RagConfig),
}
"""Served name -> (the pattern's ``build``, its config type)."""


def serve(name: str, config: RunnableConfig | None = None, **inputs: Any) -> Pregel:
    """The pattern ``name`` built from ``config`` with a ``Run`` of its own (one per call:
    LangGraph's server calls a factory for every run); ``inputs`` go to its ``build`` too."""
    try:
        build, config_type = PATTERNS[name]
    except KeyError:
        raise UserError(
            f"no served pattern {name!r}", hint=f"use one of {', '.join(sorted(PATTERNS))}"
        ) from None
    models = served_models(config)
    run = Run(budget=served_budget(config), local_model=models.slm, remote_model=models.llm)
    options = _pattern_options(name, config_type, config)
    graph = build(slm=models.slm, llm=models.llm, config=options, name=name, **inputs)
    return graph.with_config(configurable={RUN_CONFIG_KEY: run})


def _pattern_options(name: str, config_type: type[BaseModel], config: Any) -> BaseModel:
    raw = ((config or {}).get("configurable") or {}).get("pattern") or {}
    if not isinstance(raw, Mapping):
        raise UserError(
            f'configurable "pattern" must be an object of {config_type.__name__} fields, '
            f"got {raw!r}",
            hint='e.g. {"pattern": {"threshold": 0.3}}',
        )
    try:
        return config_type.model_validate(dict(raw))
    except ValueError as error:
        raise UserError(
            f'configurable "pattern" is not a valid {config_type.__name__} for {name}: {error}',
            hint=f"see the fields of patterns.{name.removesuffix('_edit')}.{config_type.__name__}",
        ) from None


def cascade(config: RunnableConfig) -> Pregel:
    """The cascade, served."""
    return serve("cascade", config)


def router(config: RunnableConfig) -> Pregel:
    """The router, served."""
    return serve("router", config)


def draft_verify(config: RunnableConfig) -> Pregel:
    """Draft, then verify, served."""
    return serve("draft_verify", config)


def slm_judges_llm(config: RunnableConfig) -> Pregel:
    """The SLM judges the LLM's answer, served."""
    return serve("slm_judges_llm", config)


def llm_judges_slm(config: RunnableConfig) -> Pregel:
    """The LLM grades the SLM's answer, served."""
    return serve("llm_judges_slm", config)


def plan_execute(config: RunnableConfig) -> Pregel:
    """Plan and execute with the calculator as its tool (the LLM plans, the SLM calls), served."""
    return serve("plan_execute", config)


def speculative_edit(config: RunnableConfig) -> Pregel:
    """A speculative edit (the SLM's draft as the LLM's predicted output), served."""
    return serve("speculative_edit", config)


def minions(config: RunnableConfig) -> Pregel:
    """MinionS (LLM jobs, SLM workers over the chunks), served."""
    return serve("minions", config)


def privacy_guard(config: RunnableConfig) -> Pregel:
    """The privacy guard (placeholders out, the reply restored locally), served."""
    return serve("privacy_guard", config)


RAG_INDEX_ENV_VAR = "COLLAB_RAG_INDEX"
"""The server's saved ``RagIndex`` folder (``RagIndex.save``); clients cannot choose a path."""

_indexes: dict[tuple[str, str], Any] = {}


def rag(config: RunnableConfig) -> Pregel:
    """RAG over the server's saved index (``$COLLAB_RAG_INDEX``), served."""
    import json
    import os
    from pathlib import Path

    from .rag_index import RagIndex

    folder = os.environ.get(RAG_INDEX_ENV_VAR)
    if not folder:
        raise UserError(
            f"the served rag graph needs ${RAG_INDEX_ENV_VAR}: a folder written by RagIndex.save",
            hint=f"build an index with RagIndex(...).add(documents).save(folder), then set "
            f"{RAG_INDEX_ENV_VAR}=folder for the server",
        )
    slm = served_models(config).slm
    key = (str(Path(folder).resolve()), slm.name)
    if key not in _indexes:  # loaded once per process, as the models are
        saved = Path(folder) / "chunks.json"
        embedded = saved.is_file() and json.loads(saved.read_text())["embedder"] is not None
        _indexes[key] = RagIndex.load(folder, embedder=slm if embedded else None)
    return serve("rag", config, index=_indexes[key])
