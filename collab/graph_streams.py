"""Model calls of a metered LangGraph node, shown in LangGraph's stream modes.

LangGraph's ``stream_mode="messages"`` listens to LangChain chat-model callbacks; collab's
models are not LangChain models, so a metered node (``collab.graph.node``) installs a tap
(``collab.budget.taps``) that replays each call of its metered models on the node's callback
manager: ``on_chat_model_start``, one ``on_llm_new_token`` with an ``AIMessageChunk`` per
streamed token, ``on_llm_end`` with the whole ``AIMessage`` (same id, so "messages" shows a
streamed reply once). The same tokens go to ``stream_mode="custom"`` as
``{"type": "token", "node": ..., "model": ..., "text": ...}`` (and ``"type": "message"``
with the whole text of a call that was not streamed). Tracers on the callbacks (LangSmith)
see the calls as chat-model runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from collab.budget.taps import CallSink, CallTap
from collab.types import Prompt, normalize_messages

if TYPE_CHECKING:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.runnables import RunnableConfig

__all__ = ["langgraph_tap"]


def langgraph_tap(config: RunnableConfig, node: str) -> CallTap | None:
    """The tap that shows a node's calls in the stream modes its graph is streamed with
    (``None`` when nobody listens: no callbacks and no stream writer)."""
    writer = _stream_writer()
    callbacks = config.get("callbacks")
    if writer is None and not callbacks:
        return None

    def tap(model: str, prompt: Prompt) -> CallSink:
        return _LangGraphSink(config, node, model, prompt, writer)

    return tap


class _LangGraphSink:
    """One call, replayed as a LangChain chat-model run and as "custom" stream parts."""

    __slots__ = ("id", "llm_run", "model", "node", "streamed", "writer")

    def __init__(
        self,
        config: RunnableConfig,
        node: str,
        model: str,
        prompt: Prompt,
        writer: Callable[[Any], None] | None,
    ) -> None:
        self.id = f"run-{uuid.uuid4()}"
        self.node, self.model, self.writer = node, model, writer
        self.streamed = False
        self.llm_run = _start_chat_run(config, model, prompt)

    def token(self, text: str) -> None:
        self.streamed = True
        if self.llm_run is not None:
            from langchain_core.messages import AIMessageChunk
            from langchain_core.outputs import ChatGenerationChunk

            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text, id=self.id))
            self.llm_run.on_llm_new_token(text, chunk=chunk)
        if self.writer is not None:
            self.writer({"type": "token", "node": self.node, "model": self.model, "text": text})

    def end(self, text: str | None, error: BaseException | None) -> None:
        if self.llm_run is not None:
            if error is not None or text is None:
                self.llm_run.on_llm_error(error or RuntimeError("the call ended with no text"))
            else:
                from langchain_core.messages import AIMessage
                from langchain_core.outputs import ChatGeneration, LLMResult

                message = AIMessage(content=text, id=self.id, name=self.model)
                result = LLMResult(generations=[[ChatGeneration(message=message)]])
                self.llm_run.on_llm_end(result)
        if self.writer is not None and not self.streamed and text is not None:
            self.writer({"type": "message", "node": self.node, "model": self.model, "text": text})


def _start_chat_run(
    config: RunnableConfig, model: str, prompt: Prompt
) -> CallbackManagerForLLMRun | None:
    if not config.get("callbacks"):
        return None
    from langchain_core.runnables.config import get_callback_manager_for_config

    manager = get_callback_manager_for_config(config)
    if not manager.handlers:
        return None
    runs = manager.on_chat_model_start(
        {"name": model, "id": ["collab", model]},
        [_as_langchain(prompt)],
        invocation_params={"model": model},
        name=model,
    )
    return runs[0] if runs else None


def _as_langchain(prompt: Prompt) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "assistant": AIMessage}
    return [
        kinds.get(m.role, HumanMessage)(content=m.content or "") for m in normalize_messages(prompt)
    ]


def _stream_writer() -> Callable[[Any], None] | None:
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (ImportError, RuntimeError):  # outside a graph
        return None
