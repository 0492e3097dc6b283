"""Load: hundreds of pattern runs at once, in threads and tasks, sharing one Run or not.

No ledger record is lost or duplicated (the ledgers match the calls the scripted models saw)
and spend never crosses the cap. The 2000-run variants are marked ``slow``.
"""

from __future__ import annotations

import pytest
from collab.patterns.common import PatternResult
from load_runs import Models, by_model, call_ids, run_tasks, run_threads, shared_run

from collab import Run
from collab.budget.run import active_run

SHARED_CAP_USD = 2.0
"""About a third of 200 escalations: the rest degrade to the SLM."""
OWN_CAP_USD = 0.05
"""Per run: room for its one remote call."""


def check_shared(models: Models, run: Run, cap: float) -> None:
    ledger = run.ledger
    assert by_model([ledger]) == models.seen()  # nothing unmetered, nothing counted twice
    assert len(set(call_ids([ledger]))) == len(ledger)
    total = ledger.total().cost_usd
    assert total == pytest.approx(models.paid_usd())
    assert 0 < total <= cap
    assert run.meter.spent()["usd"] <= cap
    assert run.meter.reserved()["usd"] == 0
    assert ledger.total().degraded > 0  # the cap was reached and held
    assert not run.active


def check_separate(models: Models, results: list[PatternResult], cap: float) -> None:
    ledgers = [r.ledger for r in results]
    assert by_model(ledgers) == models.seen()
    ids = call_ids(ledgers)
    assert len(set(ids)) == len(ids)
    assert sum(ledger.total().cost_usd for ledger in ledgers) == pytest.approx(models.paid_usd())
    assert all(ledger.total().cost_usd <= cap for ledger in ledgers)


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_threads_sharing_one_run_lose_no_record_and_never_overspend(n: int) -> None:
    models = Models.make()
    run = shared_run(models, SHARED_CAP_USD * n / 200)
    results = run_threads(n, models, run=run, usd=0)
    assert len(results) == n and all(r.answer for r in results)
    check_shared(models, run, SHARED_CAP_USD * n / 200)


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
async def test_tasks_sharing_one_run_lose_no_record_and_never_overspend(n: int) -> None:
    models = Models.make()
    run = shared_run(models, SHARED_CAP_USD * n / 200)
    results = await run_tasks(n, models, run=run, usd=0)
    assert len(results) == n and all(r.answer for r in results)
    check_shared(models, run, SHARED_CAP_USD * n / 200)


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_threads_with_a_run_each_lose_no_record(n: int) -> None:
    models = Models.make()
    results = run_threads(n, models, run=None, usd=OWN_CAP_USD)
    check_separate(models, results, OWN_CAP_USD)


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
async def test_tasks_with_a_run_each_lose_no_record(n: int) -> None:
    models = Models.make()
    results = await run_tasks(n, models, run=None, usd=OWN_CAP_USD)
    check_separate(models, results, OWN_CAP_USD)


def test_a_shared_run_stays_active_until_its_last_user_ends() -> None:
    run = Run()
    first, second = run.share(), run.share()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first invocation finishes, the second goes on
    assert run.active and active_run() is run
    with run:  # the caller's own entry is counted apart
        second.__exit__(None, None, None)
        assert run.active
    assert not run.active and active_run() is None
