"""Integration fixtures: one real SmolLM2 ``LocalModel`` shared by the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from collab.errors import CollabError
from collab.models.local import LocalModel
from collab.models.server import EmbeddedServer

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_ENV_VAR = "COLLAB_TEST_SMOLLM2"
"""A path to a SmolLM2-135M-Instruct GGUF to use when the catalog copy is not pulled."""
_FALLBACK_PATHS: list[Path] = []


def smollm2_source() -> str | Path | None:
    """The catalog name when its file is on disk, else a known local path, else None."""
    try:
        from collab.models.catalog import model_path

        if model_path(SMOLLM2, pull=False).is_file():
            return SMOLLM2
    except (ImportError, CollabError):
        pass  # no catalog yet, or the model is not pulled: try plain paths
    candidates = [Path(p) for p in [os.environ.get(SMOLLM2_ENV_VAR)] if p] + _FALLBACK_PATHS
    return next((p for p in candidates if p.is_file()), None)


@pytest.fixture(scope="session")
def smollm2_source_path() -> str | Path:
    """Where the session's SmolLM2 comes from (skips the test when there is none)."""
    source = smollm2_source()
    if source is None:
        pytest.skip(
            f"SmolLM2 model file not found: run `collab models pull {SMOLLM2}` "
            f"(or `python3 dev.py setup`), or set {SMOLLM2_ENV_VAR} to a GGUF path"
        )
    return source


@pytest.fixture(scope="session")
def smollm2(smollm2_source_path: str | Path) -> Iterator[LocalModel]:
    """A real SmolLM2-135M-Instruct, loaded once for every integration test."""
    if smollm2_source_path == SMOLLM2:
        model = LocalModel.from_catalog(SMOLLM2)
    else:
        model = LocalModel(smollm2_source_path, name=SMOLLM2)
    yield model
    model.close()


@pytest.fixture(scope="session")
def embedded(smollm2_source_path: str | Path) -> Iterator[EmbeddedServer]:
    """The real embedded OpenAI-compatible server, shared by the session's HTTP tests."""
    with EmbeddedServer(smollm2_source_path, alias="smollm2") as server:
        yield server
