"""docs/deploy.md: its Python blocks run (offline ones here, the Postgres one against a
throwaway cluster; the server one in tests/integration/test_langgraph_server.py), and its
``langgraph.json`` is the repository's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_blocks import NEEDS, blocks, run_block
from postgres_cluster import PostgresCluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deploy.md"
PYTHON = blocks(PAGE, "python")
OFFLINE = [b for b in PYTHON if not NEEDS.search(b)]


@pytest.mark.parametrize("index", range(len(OFFLINE)))
def test_offline_block_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    run_block(OFFLINE[index], "deploy_doc_block", monkeypatch)


def test_every_block_that_needs_something_is_run_somewhere() -> None:
    needs = sorted(m.group(1) for b in PYTHON if (m := NEEDS.search(b)))
    assert needs == ["PostgreSQL", "langgraph dev (above)"]


def test_the_page_shows_the_repositorys_langgraph_json() -> None:
    [shown] = blocks(PAGE, "json")
    assert json.loads(shown) == json.loads((ROOT / "langgraph.json").read_text())


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_the_postgres_block_runs_on_a_real_postgres(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [block] = [b for b in PYTHON if "# needs: PostgreSQL" in b]
    with PostgresCluster() as url:
        shown = "postgresql://collab@127.0.0.1:5432/postgres"
        assert shown in block
        run_block(block.replace(shown, url), "deploy_doc_block", monkeypatch)
    assert capsys.readouterr().out.split() == ["391.", "2"]  # answer, draft and judge calls
