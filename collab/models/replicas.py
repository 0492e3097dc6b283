"""Several embedded llama.cpp servers behind one LiteLLM ``Router``: local scale-out.

``Replicas(model, count=N)`` starts N ``EmbeddedServer`` processes on loopback (each on a free
port, each checked to answer before it counts) and ``remote_model()`` is one ``RemoteModel``
over all of them: LiteLLM's Router spreads the calls, retries a failed call on another replica
and cools a failing replica down, so a replica that dies mid-run costs a retry, not the run.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from collab.errors import UserError
from collab.models.deployments import Deployment, RouterOptions
from collab.models.remote import RemoteModel
from collab.models.server import EmbeddedServer, default_server_model

__all__ = ["Replicas"]

REPLICA_ROUTING = RouterOptions(
    routing_strategy="least-busy", num_retries=2, allowed_fails=1, cooldown_time_s=30.0
)
"""Replicas are alike: send each call to the least busy one; one failure cools it down."""


class Replicas:
    """``count`` embedded servers of one model, and the Router-backed model over them."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        count: int = 2,
        n_threads: int | None = None,
        options: RouterOptions = REPLICA_ROUTING,
        **server_options: Any,
    ) -> None:
        if count < 1:
            raise UserError(f"replicas must be >= 1, got {count}", hint="e.g. --replicas 2")
        self.model = model if model is not None else default_server_model()
        self.options = options
        self.servers = [
            EmbeddedServer(model, n_threads=n_threads, **server_options) for _ in range(count)
        ]
        self._stack = ExitStack()

    def start(self) -> Replicas:
        """Start every replica and wait until each answers; stops them all if one fails."""
        with ExitStack() as starting:
            for server in self.servers:
                starting.enter_context(server)
            self._stack = starting.pop_all()
        return self

    def stop(self) -> None:
        """Stop every replica (safe to call twice)."""
        self._stack.close()

    def __enter__(self) -> Replicas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def deployments(self) -> list[Deployment]:
        """One deployment per replica, named ``replica-0``..., priced as the embedded server."""
        return [
            Deployment(
                f"openai/{server.model_alias}",
                api_base=server.base_url,
                name=f"replica-{i}",
                prices=server.price,
            )
            for i, server in enumerate(self.servers)
        ]

    def remote_model(self, **kwargs: Any) -> RemoteModel:
        """A ``RemoteModel`` over all replicas through a LiteLLM Router."""
        kwargs.setdefault("options", self.options)
        kwargs.setdefault("name", f"replicas/{self.servers[0].model_alias}")
        return RemoteModel.from_deployments(self.deployments(), **kwargs)

    def router_config(self, group: str = "llm") -> dict[str, Any]:
        """The Router's settings as LiteLLM's proxy config (``litellm --config``) takes them."""
        return {
            "model_list": [d.entry(group, placeholder_key=True) for d in self.deployments()],
            "router_settings": {
                "routing_strategy": self.options.routing_strategy,
                "num_retries": self.options.num_retries,
                "allowed_fails": self.options.allowed_fails,
                "cooldown_time": self.options.cooldown_time_s,
            },
        }
