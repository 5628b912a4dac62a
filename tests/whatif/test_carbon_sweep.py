"""A sweep over the carbon budget alone shares one set of per-part Lagrangian rows (pipeline/carbon_cuts.py):
its plans and objectives are those of independent solves, budgets the free plans meet are answered without a
MILP, and any other sweep makes no rows."""

from __future__ import annotations

import pytest

import fleetopt
from fleetopt.whatif.run import plan_jobs
from fleetopt.whatif.run import budget_sweep
from fleetopt.whatif.scenario import read_base
from fleetopt.whatif.spec import factors_from, scenarios
from fleetopt.whatif.worker import SolveSettings
from helpers import TINY, solve_and_verify

BUDGETS = {"policy.carbon_budget_t": "2:60:6"}


@pytest.fixture(scope="module")
def swept():
    return fleetopt.sweep(TINY, BUDGETS, executor="sequential")


def test_each_budget_plans_as_an_independent_solve(swept):
    inst = fleetopt.load_instance(TINY)
    for _, row in swept.iloc[1:].iterrows():
        budget = float(row["policy.carbon_budget_t"])
        alone = solve_and_verify(inst.model_copy(update={"policy": inst.policy.model_copy(
            update={"carbon_budget_t": budget})}))
        assert row["status"] == alone.status
        if alone.has_plan:
            assert row["objective"] == pytest.approx(alone.objective, rel=1e-7)
            assert row["carbon_t"] <= budget + 1e-6


def test_budgets_the_free_plans_meet_need_no_milp(swept):
    answered = swept["detail"].str.contains("carbon budget left free meet it")
    free_carbon = swept.loc[answered, "carbon_t"]
    assert answered.any() and not answered.all()     # 60 t is loose for tiny-fleet, 2 t binds
    loose = swept["policy.carbon_budget_t"].iloc[1:] >= free_carbon.max() + 1e-6
    assert answered.iloc[1:][loose].all()


def test_only_a_budget_only_sweep_shares_rows():
    base = read_base(TINY)
    solve = SolveSettings()
    for settings, expected in (({"policy.carbon_budget_t": "10,20"}, (40, 10, 20)),
                               ({"policy.carbon_budget_t": "x0.5,x2"}, (40, 20.0, 80.0)),
                               ({"policy.carbon_budget_t": "10", "regions.us-east.power_cap_mw": "2"}, None)):
        factors = factors_from(settings)
        jobs = plan_jobs(base, scenarios(factors, "grid"), solve)
        assert budget_sweep(base, factors, jobs) == expected
