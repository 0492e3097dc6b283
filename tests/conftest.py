"""Suite-wide guards: no accidental network from unit tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def _no_remote_network(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Refuse connections beyond loopback: tests talk to servers they start themselves."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in _LOOPBACK and self.family != socket.AF_UNIX:
            raise RuntimeError(f"test tried to reach {address!r}: tests stay on loopback")
        return original(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield
