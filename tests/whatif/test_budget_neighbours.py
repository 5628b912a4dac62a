"""A sweep over the carbon budget alone uses its monotone structure (whatif/budgets.py): the loosest binding
budget first, a plan solved at budget B with carbon c answers every budget in [c, B] (its detail says so, and
the gap stays its own plan's against a bound valid at its budget), an instance repeated by another scenario
is solved once, and every answer equals an independent solve's within the gap."""

from __future__ import annotations

import pytest

import fleetopt
from fleetopt.whatif.budgets import Ledger
from fleetopt.whatif.run import Job
from fleetopt.whatif.worker import Outcome, WarmStart
from helpers import TINY, solve_and_verify

# tiny-fleet (budget 40 t in the file): 3 t binds alone; 4-7 t share one plan (3.61 t); 8 t has its own
SETTINGS = {"policy.carbon_budget_t": "3:8:6,40"}


@pytest.fixture(scope="module")
def swept():
    return fleetopt.sweep(TINY, SETTINGS, executor="sequential")


def at_budget(budget: float):
    inst = fleetopt.load_instance(TINY)
    return inst.model_copy(update={"policy": inst.policy.model_copy(update={"carbon_budget_t": budget})})


def test_each_budget_equals_an_independent_solve_within_the_gap(swept):
    for _, row in swept.iloc[1:].iterrows():
        budget = float(row["policy.carbon_budget_t"])
        alone = solve_and_verify(at_budget(budget))
        assert row["status"] == alone.status == "optimal"
        assert row["objective"] == pytest.approx(alone.objective, rel=1e-4)
        assert row["gap"] <= 1e-4 and row["carbon_t"] <= budget + 1e-6


def test_budgets_inside_a_solved_plans_interval_are_answered_by_it(swept):
    by_budget = {float(r["policy.carbon_budget_t"]): r for _, r in swept.iloc[1:].iterrows()}
    neighbour = "the plan of policy.carbon_budget_t=7 meets this budget, within the gap of the bound proven at " \
                "policy.carbon_budget_t=7"
    for budget in (4.0, 5.0, 6.0):
        assert neighbour in by_budget[budget]["detail"]
        assert by_budget[budget]["objective"] == by_budget[7.0]["objective"]
    for budget in (3.0, 7.0, 8.0):    # 7 t's plan is over 3 t; 8 t is looser and solved first
        assert "the plan of" not in by_budget[budget]["detail"]


def test_a_scenario_repeating_the_base_is_not_solved_again(swept):
    repeat = swept[swept["policy.carbon_budget_t"] == 40.0].iloc[0]
    assert repeat["detail"].startswith("same instance as base")
    assert repeat["solve_s"] == 0.0 and repeat["objective"] == swept.iloc[0]["objective"]
    assert swept.attrs["solved"] == len(swept)   # every row made in this run, the repeat by a copy


def test_the_ledger_gives_plans_that_meet_a_budget_and_bounds_from_looser_ones():
    jobs = [Job(f"j{b}", ()) for b in (10.0, 20.0, 30.0)]
    ledger = Ledger(jobs, (10.0, 20.0, 30.0))
    for job, objective, carbon, bound in ((jobs[2], 100.0, 18.0, 99.0), (jobs[0], 300.0, 9.0, 290.0)):
        import numpy as np

        outcome = Outcome(job.scenario_id, {"status": "optimal", "objective": objective}, x=np.zeros(2),
                          bound=bound, carbon_row=carbon)
        ledger.record(job, outcome, WarmStart(np.full(2, objective), "d", ["a", "b"]))
    known, start = ledger.known(jobs[1])         # 20 t: 30 t's plan (18 t) meets it, 30 t's bound holds
    assert known.bound == 99.0 and start.x[0] == 100.0
    known, start = ledger.known(jobs[0])         # 10 t: only its own plan meets; the best looser bound is its own
    assert start.x[0] == 300.0 and known.bound == 290.0
    infeasible = Outcome("j20.0", {"status": "infeasible"})
    ledger.record(jobs[1], infeasible, None)
    assert ledger.infeasible_row(jobs[0])["status"] == "infeasible"
    assert ledger.infeasible_row(jobs[2]) is None


def test_a_budget_sweeps_problem_built_once_per_worker_is_the_problem_built_anew():
    import numpy as np

    from fleetopt.pipeline.problem import build_problem
    from fleetopt.whatif.scenario import read_base
    from fleetopt.whatif.spec import factors_from
    from fleetopt.whatif.worker import SolveSettings, Task, problem_for

    base = read_base(TINY)
    for setting in factors_from({"policy.carbon_budget_t": "5,9"})[0].settings:
        inst = at_budget(float(setting.value))
        reused = problem_for(inst, Task("id", (setting,), base, SolveSettings(), carbon_cuts=object()))
        fresh = build_problem(inst).form
        assert reused.form.col_names() == fresh.col_names()
        assert (reused.form.matrix() != fresh.matrix()).nnz == 0
        for mine, theirs in zip(reused.form.row_bounds(), fresh.row_bounds()):
            assert np.array_equal(mine, theirs)
        assert all(np.array_equal(a, b) for a, b in zip(reused.form.col_arrays(), fresh.col_arrays()))
