"""What a served graph is built from: models and a budget read from configuration.

LangGraph's server (``langgraph dev``, LangGraph Platform) builds a graph per run by calling
a factory with the run's ``RunnableConfig``; the factories in ``patterns.served`` read here
which models to use and what the run may spend:

=====================  ==========================  ============================================
setting                environment                 ``config["configurable"]``
=====================  ==========================  ============================================
local SLM              ``COLLAB_SLM``              ``slm``
remote LLM             ``COLLAB_LLM``              ``llm``
LLM's API base         ``COLLAB_LLM_API_BASE``     (environment only)
llama.cpp threads      ``COLLAB_N_THREADS``        (environment only)
budget limits          ``COLLAB_BUDGET_USD``,      ``budget``: ``{"usd": 0.01, "calls": 5,
                       ``_CALLS``, ``_REMOTE_      "policy": "degrade", ...}``
                       TOKENS``, ``_LOCAL_
                       TOKENS``, ``_WALL_S``,
                       ``_POLICY``
=====================  ==========================  ============================================

Model specs: an SLM is a catalog name or a GGUF path (default ``smollm2-135m-instruct``);
an LLM is a LiteLLM model string (``openai/gpt-4o-mini``; its key from the provider's usual
environment variable), ``embedded`` / ``embedded:<catalog name>`` for collab's embedded
llama.cpp server (the default), and either may be ``scripted:<reply>`` (a ``ScriptedModel``
that always answers ``<reply>``: for tests and demos). Models are opened once per process
and shared by every run that names them. A client's ``budget`` can only tighten the
server's (the smaller of each limit wins), never loosen it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from collab.budget.limits import LIMIT_NAMES, Budget
from collab.errors import UserError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from collab.models.base import Model

__all__ = [
    "DEFAULT_LLM",
    "DEFAULT_SLM",
    "ServedModels",
    "served_budget",
    "served_models",
]

DEFAULT_SLM = "smollm2-135m-instruct"
DEFAULT_LLM = "embedded"
SCRIPTED = "scripted:"
EMBEDDED = "embedded"

_ENV_LIMITS = {name: f"COLLAB_BUDGET_{name.upper()}" for name in LIMIT_NAMES}
_INTEGER_LIMITS = {"remote_tokens", "local_tokens", "calls"}


@dataclass(frozen=True)
class ServedModels:
    """The models one served run uses (shared with every run that names the same ones)."""

    slm: Model
    llm: Model


def served_models(config: RunnableConfig | None = None) -> ServedModels:
    """The SLM and LLM named by ``config["configurable"]`` (else the environment, else the
    defaults), opened on first use and reused for the life of the process."""
    configurable = _configurable(config)
    slm = _setting(configurable, "slm", "COLLAB_SLM", DEFAULT_SLM)
    llm = _setting(configurable, "llm", "COLLAB_LLM", DEFAULT_LLM)
    return ServedModels(slm=_opened("local", slm), llm=_opened("remote", llm))


def served_budget(config: RunnableConfig | None = None) -> Budget:
    """The budget of one served run: the server's (``COLLAB_BUDGET_*``), tightened by the
    client's ``config["configurable"]["budget"]``."""
    server = _env_budget()
    asked = _configurable(config).get("budget")
    if asked is None:
        return server
    if not isinstance(asked, Mapping):
        raise UserError(
            f'configurable "budget" must be an object of limits, got {asked!r}',
            hint='e.g. {"budget": {"usd": 0.01, "calls": 5, "policy": "degrade"}}',
        )
    unknown = set(asked) - {*LIMIT_NAMES, "policy"}
    if unknown:
        raise UserError(
            f'configurable "budget" has unknown limits {sorted(unknown)}',
            hint=f"use {', '.join(LIMIT_NAMES)} and policy",
        )
    limits: dict[str, Any] = {}
    for name in LIMIT_NAMES:
        mine, theirs = getattr(server, name), asked.get(name)
        limits[name] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
    policy = asked.get("policy", server.policy)
    return Budget(**limits, policy=policy)


def _env_budget() -> Budget:
    limits: dict[str, Any] = {}
    for name, variable in _ENV_LIMITS.items():
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            limits[name] = int(raw) if name in _INTEGER_LIMITS else float(raw)
        except ValueError:
            raise UserError(
                f"{variable}={raw!r} is not a number",
                hint=f"set {variable} to a {'whole ' if name in _INTEGER_LIMITS else ''}number",
            ) from None
    policy = os.environ.get("COLLAB_BUDGET_POLICY") or "raise"
    return Budget(**limits, policy=policy)  # type: ignore[arg-type]  (checked by Budget)


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


def _setting(configurable: Mapping[str, Any], key: str, variable: str, default: str) -> str:
    value = configurable.get(key) or os.environ.get(variable) or default
    if not isinstance(value, str):
        raise UserError(
            f'configurable "{key}" must be a model name string, got {value!r}',
            hint='e.g. "smollm2-135m-instruct" for an SLM, "openai/gpt-4o-mini" for an LLM',
        )
    return value


SCRIPTED_REMOTE_USD_PER_TOKEN = 1e-6
"""What a ``scripted:`` LLM charges per token ($1 per million), so its budgets mean something."""

_opened_models: dict[tuple[str, str], Model] = {}
_opening = threading.Lock()
_servers: list[Any] = []
"""Embedded servers started for served runs: kept alive with the process (each stops when
the process exits)."""


def _opened(side: Literal["local", "remote"], spec: str) -> Model:
    """The model ``spec`` names, opened once per process (under a lock: a model can take
    seconds to load and two runs may ask for it at once)."""
    key = (side, spec)
    with _opening:
        model = _opened_models.get(key)
        if model is None:
            model = _open(side, spec)
            _opened_models[key] = model
        return model


def _open(side: Literal["local", "remote"], spec: str) -> Model:
    if spec.startswith(SCRIPTED):
        from collab.models.scripted import ScriptedModel

        reply = spec[len(SCRIPTED) :]
        price = SCRIPTED_REMOTE_USD_PER_TOKEN if side == "remote" else 0.0
        return ScriptedModel(
            lambda _messages: reply, name=f"scripted-{side}", kind=side, cost_per_token_usd=price
        )
    threads = _threads()
    if side == "local":
        from collab.models.local import LocalModel

        return LocalModel(spec, n_threads=threads)
    if spec == EMBEDDED or spec.startswith(EMBEDDED + ":"):
        from collab.models.server import EmbeddedServer, default_server_model

        served = spec.partition(":")[2] or default_server_model()
        server = EmbeddedServer(served, n_threads=threads).start()  # stopped at exit
        _servers.append(server)
        return server.remote_model()
    from collab.models.remote import RemoteModel

    return RemoteModel(spec, api_base=os.environ.get("COLLAB_LLM_API_BASE") or None)


def _threads() -> int | None:
    raw = os.environ.get("COLLAB_N_THREADS")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise UserError(
            f"COLLAB_N_THREADS={raw!r} is not a whole number", hint="e.g. COLLAB_N_THREADS=2"
        ) from None
