"""Ledger: summaries, the all-remote counterfactual, round trips; and what local calls cost."""

from __future__ import annotations

import copy
import io
import math
import pickle
from collections.abc import Iterator

import pytest
from rich.console import Console

from collab.budget.call_cost import Costing
from collab.budget.ledger import CallRecord, Ledger, Saving, Summary
from collab.budget.limits import Budget
from collab.budget.local_costs import CpuSecondsCost, EnergyCost, FreeLocal
from collab.budget.meter import Meter
from collab.budget.prices import set_price
from collab.errors import UserError
from collab.models.scripted import ScriptedModel
from collab.types import ModelPrice

REMOTE = "acme/big-test-model"


def ledger() -> Ledger:
    """Five calls of a small cascade: two local, two remote (one failed), one refused."""
    return Ledger(
        run_id="run-1",
        records=[
            CallRecord(
                node="draft",
                role="drafter",
                model="small",
                kind="local",
                prompt_tokens=100,
                completion_tokens=50,
                cost_usd=0.0,
                latency_s=1.0,
                cpu_s=0.8,
            ),
            CallRecord(
                node="verify",
                role="verifier",
                model=REMOTE,
                kind="remote",
                prompt_tokens=200,
                completion_tokens=20,
                cost_usd=0.003,
                latency_s=0.5,
            ),
            CallRecord(
                node="draft",
                role="drafter",
                model="small",
                kind="local",
                prompt_tokens=80,
                completion_tokens=40,
                cost_usd=0.0,
                latency_s=0.7,
                cpu_s=0.6,
                original_model=REMOTE,
                outcome="degraded",
            ),
            CallRecord(
                node="verify",
                role="verifier",
                model=REMOTE,
                kind="remote",
                prompt_tokens=10,
                completion_tokens=0,
                cost_usd=None,
                latency_s=0.2,
                outcome="error",
                error="RemoteAPIError: 500",
            ),
            CallRecord(
                node="verify",
                role="verifier",
                model=REMOTE,
                kind="remote",
                outcome="refused",
                error="remote USD budget of run exhausted",
            ),
        ],
    )


def test_total_counts_made_calls_and_the_rest_apart() -> None:
    assert ledger().total() == Summary(
        calls=4,
        errors=1,
        degraded=1,
        refused=1,
        prompt_tokens=390,
        completion_tokens=110,
        cost_usd=pytest.approx(0.003),  # type: ignore[arg-type]
        unpriced=1,
        latency_s=pytest.approx(2.4),  # type: ignore[arg-type]
        cpu_s=pytest.approx(1.4),  # type: ignore[arg-type]
    )


def test_summaries_group_in_order_of_first_appearance() -> None:
    by_node = ledger().by_node()
    assert list(by_node) == ["draft", "verify"]
    draft, verify = by_node["draft"], by_node["verify"]
    assert (draft.calls, draft.degraded, draft.prompt_tokens, draft.completion_tokens) == (
        2,
        1,
        180,
        90,
    )
    assert (verify.calls, verify.errors, verify.refused, verify.unpriced) == (2, 1, 1, 1)
    assert verify.cost_usd == pytest.approx(0.003)

    by_model = ledger().by_model()
    assert list(by_model) == ["small", REMOTE]
    assert by_model["small"].cpu_s == pytest.approx(1.4)
    assert by_model[REMOTE].prompt_tokens == 210

    assert list(ledger().by_role()) == ["drafter", "verifier"]
    assert ledger().by_role()["drafter"] == by_node["draft"]
    by_outcome = ledger().summary("outcome")
    assert {k: s.calls + s.refused for k, s in by_outcome.items()} == {
        "ok": 2,
        "degraded": 1,
        "error": 1,
        "refused": 1,
    }


def test_records_without_a_node_group_under_none() -> None:
    book = Ledger(records=[CallRecord(model="m", kind="local", prompt_tokens=3)])
    assert book.by_node() == {None: Summary(calls=1, prompt_tokens=3)}


def test_a_refused_call_without_a_price_is_not_unpriced() -> None:
    book = Ledger(records=[CallRecord(model="m", kind="remote", cost_usd=None, outcome="refused")])
    assert book.total().unpriced == 0 and book.total().refused == 1


def test_empty_ledger() -> None:
    assert Ledger().total() == Summary()
    assert Ledger().by_model() == {}
    assert len(Ledger()) == 0


# --- the all-remote counterfactual -------------------------------------------------------


def per_mtok(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """$10 per million prompt tokens, $40 per million completion tokens, for REMOTE only."""
    if model != REMOTE:
        return None
    return (prompt_tokens * 10 + completion_tokens * 40) / 1_000_000


def test_all_remote_cost_prices_every_made_call_at_the_remote_model() -> None:
    # Made calls: (100, 50), (200, 20), (80, 40), (10, 0); the refused one is left out.
    expected = (390 * 10 + 110 * 40) / 1_000_000
    assert ledger().all_remote_cost_usd(REMOTE, price=per_mtok) == pytest.approx(expected)
    assert ledger().all_remote_cost_usd("unknown", price=per_mtok) is None


def test_saving_against_the_all_remote_counterfactual() -> None:
    saving = ledger().saving(REMOTE, price=per_mtok)
    all_remote = 0.0083  # 390 * $10/M + 110 * $40/M
    assert saving.remote_model == REMOTE
    assert saving.actual_usd == pytest.approx(0.003)
    assert saving.all_remote_usd == pytest.approx(all_remote)
    assert saving.unpriced == 1
    assert saving.saved_usd == pytest.approx(all_remote - 0.003)
    assert saving.saved_pct == pytest.approx(100 * 0.0053 / 0.0083)


@pytest.fixture
def remote_price() -> Iterator[None]:
    set_price(REMOTE, ModelPrice(input_per_mtok_usd=10.0, output_per_mtok_usd=40.0))
    yield
    set_price(REMOTE, None)


@pytest.mark.usefixtures("remote_price")
def test_saving_uses_set_price_by_default() -> None:
    saving = ledger().saving(REMOTE)
    assert saving.all_remote_usd == pytest.approx(0.0083)
    assert saving.saved_pct == pytest.approx(100 * 0.0053 / 0.0083)


def test_saving_without_a_price_or_a_cost_has_no_percentage() -> None:
    unknown = Saving(remote_model="m", actual_usd=0.01, all_remote_usd=None)
    assert unknown.saved_usd is None and unknown.saved_pct is None
    free = Saving(remote_model="m", actual_usd=0.0, all_remote_usd=0.0)
    assert free.saved_usd == 0.0 and free.saved_pct is None
    worse = Saving(remote_model="m", actual_usd=0.03, all_remote_usd=0.02)
    assert worse.saved_usd == pytest.approx(-0.01) and worse.saved_pct == pytest.approx(-50.0)


# --- round trips and rendering -----------------------------------------------------------


def test_json_round_trip_is_equal() -> None:
    original = ledger()
    again = Ledger.from_json(original.to_json())
    assert again == original
    assert again.records[2].original_model == REMOTE
    assert Ledger.from_json(original.to_json().encode()) == original


def test_pickle_and_deepcopy_round_trip() -> None:
    original = ledger()
    assert pickle.loads(pickle.dumps(original)) == original
    copied = copy.deepcopy(original)
    assert copied == original
    copied.append(CallRecord(model="m", kind="local"))
    assert len(original) == 5 and len(copied) == 6


def test_rows_are_flat_json_values() -> None:
    rows = ledger().to_rows()
    assert len(rows) == 5
    assert rows[1]["model"] == REMOTE and rows[1]["cost_usd"] == 0.003
    assert rows[3]["cost_usd"] is None and rows[4]["outcome"] == "refused"


def test_rich_table_shows_each_group_and_the_total() -> None:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(ledger().rich_table(title="costs"))
    text = out.getvalue()
    assert "costs" in text
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert {"small", REMOTE, "total"} <= set(lines)
    assert "0.0030" in lines[REMOTE] and "1 errors" in lines[REMOTE]
    assert "1 refused" in lines[REMOTE] and "1 unpriced" in lines[REMOTE]
    assert "1 degraded" in lines["small"]
    assert "390" in lines["total"] and "110" in lines["total"]


def test_rich_table_by_node_marks_no_node() -> None:
    book = Ledger(records=[CallRecord(model="m", kind="local")])
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(book.rich_table(by="node"))
    assert "calls by node" in out.getvalue()
    assert any(
        line.split("│")[1].strip() == "-" for line in out.getvalue().splitlines() if "│" in line
    )


# --- what local calls cost ---------------------------------------------------------------


def test_free_local_costs_nothing() -> None:
    assert (
        FreeLocal().cost_usd(
            prompt_tokens=10**6, completion_tokens=10**6, cpu_s=3600.0, wall_s=3600.0
        )
        == 0.0
    )


def test_cpu_seconds_cost_is_cpu_time_at_the_hourly_rate() -> None:
    cost = CpuSecondsCost(usd_per_cpu_hour=0.04)
    # 90 CPU seconds = 1/40 hour at $0.04/hour = $0.001; wall time and tokens do not matter.
    assert cost.cost_usd(prompt_tokens=5, completion_tokens=5, cpu_s=90.0, wall_s=1.0) == (
        pytest.approx(0.001)
    )
    assert cost.cost_usd(prompt_tokens=500, completion_tokens=0, cpu_s=90.0, wall_s=99.0) == (
        pytest.approx(0.001)
    )


def test_energy_cost_is_watts_times_wall_time_at_the_kwh_price() -> None:
    cost = EnergyCost(watts=60.0, usd_per_kwh=0.30)
    # 60 W for 120 s = 7200 J = 0.002 kWh, at $0.30/kWh = $0.0006; CPU time does not matter.
    assert cost.cost_usd(prompt_tokens=1, completion_tokens=1, cpu_s=500.0, wall_s=120.0) == (
        pytest.approx(0.0006)
    )


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, "0.04", None])
def test_local_cost_rates_must_be_finite_and_not_negative(bad: object) -> None:
    with pytest.raises(UserError, match=r"CpuSecondsCost.usd_per_cpu_hour must be a finite"):
        CpuSecondsCost(usd_per_cpu_hour=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"EnergyCost.watts"):
        EnergyCost(watts=bad, usd_per_kwh=0.3)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"EnergyCost.usd_per_kwh"):
        EnergyCost(watts=60, usd_per_kwh=bad)  # type: ignore[arg-type]


def test_the_meter_records_local_costs_without_counting_them_against_usd() -> None:
    small = ScriptedModel(lambda _: "a b c", name="small", kind="local")
    meter = Meter(
        Budget(usd=0.0005),
        costing=Costing(local=EnergyCost(watts=60.0, usd_per_kwh=0.30)),
    )
    for _ in range(2):
        reservation = meter.reserve(small, prompt_tokens=2, max_tokens=3)
        completion = small.complete("x y")
        meter.settle(reservation, completion, latency_s=120.0, cpu_s=1.0)
    failing = meter.reserve(small, prompt_tokens=2, max_tokens=3)
    meter.fail(failing, RuntimeError("crashed"), latency_s=60.0)
    costs = [r.cost_usd for r in meter.ledger.records]
    assert costs == [pytest.approx(0.0006), pytest.approx(0.0006), pytest.approx(0.0003)]
    assert meter.spent()["usd"] == 0  # over the $0.0005 limit, yet no call was refused
    assert meter.ledger.total().cost_usd == pytest.approx(0.0015)
