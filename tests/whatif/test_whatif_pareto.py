"""Pareto front by the epsilon-constraint method: dominance and knee on hand-worked fronts, and the traced
front of the tiny instance checked against independent solves."""

from __future__ import annotations


import numpy as np
import pytest
from typer.testing import CliRunner

import fleetopt
from fleetopt.cli import app
from fleetopt.whatif.pareto import epsilon_budgets, knee_index, nondominated, pareto_front
from fleetopt.whatif.run import SolveSettings
from fleetopt.whatif.scenario import read_base
from helpers import TINY



def test_nondominated_by_hand():
    carbon = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 4.0])
    cost = np.array([10.0, 8.0, 9.0, 8.0, 5.0, 5.0])
    # (2, 9) is beaten by (2, 8); (3, 8) costs no less than (2, 8); the second (4, 5) repeats the first
    assert nondominated(carbon, cost).tolist() == [True, True, False, False, True, False]


def test_knee_of_an_l_shaped_front_is_its_corner():
    carbon = np.array([0.0, 1.0, 2.0, 6.0, 10.0])
    cost = np.array([10.0, 2.5, 2.0, 1.0, 0.0])  # scaled distances below the chord: .65, .60, .30
    assert knee_index(carbon, cost) == 1
    assert knee_index(np.array([0.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.0])) is None  # a straight line: no knee
    assert knee_index(np.array([0.0, 1.0]), np.array([1.0, 0.0])) is None


def test_epsilon_budgets_cover_both_ends():
    budgets = epsilon_budgets(2.5922327103438536, 9.86122036130308, 5)
    assert len(budgets) == 5 and budgets[0] >= 2.5922327103438536 and budgets[-1] >= 9.86122036130308
    assert budgets[0] == pytest.approx(2.59224) and budgets[2] == pytest.approx(6.22673)


@pytest.fixture(scope="module")
def front():
    return pareto_front(read_base(TINY), 6, executor="sequential", solve=SolveSettings(mip_rel_gap=0.0))


def independent(budget: float | None, objective: str = "cost"):
    inst = fleetopt.load_instance(TINY)
    inst = inst.model_copy(update={"objective": objective,
                                   "policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})
    return fleetopt.solve(inst, mip_rel_gap=0.0)


def test_front_ends_are_the_two_anchors(front):
    f = front.front
    cleanest = independent(None, "carbon")
    cheapest = independent(None)
    assert f["carbon_t"].iloc[0] == pytest.approx(cleanest.totals.carbon_t, rel=1e-6)
    assert f["cost_usd"].iloc[-1] == pytest.approx(cheapest.totals.cost_usd, rel=1e-9)
    assert len(f) >= 3


def test_front_trades_cost_for_carbon_and_each_point_is_optimal(front):
    f = front.front
    assert np.all(np.diff(f["carbon_t"]) > 0) and np.all(np.diff(f["cost_usd"]) < 0)
    mid = f.iloc[1]
    plan = independent(float(mid["policy.carbon_budget_t"]))
    assert mid["cost_usd"] == pytest.approx(plan.totals.cost_usd, rel=1e-9)
    assert f["knee"].sum() == (0 if front.knee is None else 1)


def test_cli_pareto_writes_front_and_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["pareto", str(TINY), "--points", "4", "--executor", "sequential",
                                      "-o", "front.csv", "--plot", "front.png", "--gap", "0"])
    assert result.exit_code == 0, result.output
    import pandas as pd

    f = pd.read_csv(tmp_path / "front.csv")
    assert {"carbon_t", "cost_usd", "knee", "changed"} <= set(f.columns) and len(f) >= 2
    assert (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "pareto-tiny-fleet-runs.csv").exists()  # every solve, for a resumed run
