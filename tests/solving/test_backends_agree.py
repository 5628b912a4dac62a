"""The three backends translate one formulation: same status and objective on random and shipped instances.

Random small formulations come from the brute-force test's generators (its seeds 2, 4, 9 and 10 are infeasible);
the shipped instances are solved end to end through fleetopt.api.solve_instance (slow: global-fleet takes
22-45 s for the three backends on a 2-core machine).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetopt.api import solve_instance
from fleetopt.backends import highs, ortools_backend, pyomo_backend
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.dominated import without_dominated
from fleetopt.formulation.families import build
from fleetopt.io.load import load_instance
from helpers import random_instance, random_serving, random_training
from test_parts_dominated import two_services
from helpers import assert_verified
from helpers import static_shipped_instances

BACKENDS = {"highs": highs, "pyomo": pyomo_backend, "ortools": ortools_backend}
EXACT = SolveOptions(mip_rel_gap=0.0, time_limit_s=30.0)
INSTANCES = static_shipped_instances()


def random_form(seed):
    rng = np.random.default_rng(seed)
    return build(random_instance(rng), random_training(rng), random_serving(rng))


def feasible(form, x, tol=1e-6) -> bool:
    _, lb, ub, integer = form.col_arrays()
    lower, upper = form.row_bounds()
    ax = form.matrix() @ x
    return bool(np.all(ax >= lower - tol) and np.all(ax <= upper + tol) and np.all(x >= lb - tol)
                and np.all(x <= ub + tol) and np.allclose(x[integer], np.round(x[integer]), atol=tol))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 9, 10])
def test_backends_reach_the_same_optimum(seed):
    form = random_form(seed)
    cost = form.col_arrays()[0]
    results = {name: backend.solve(form, EXACT) for name, backend in BACKENDS.items()}
    reference = results["highs"]
    assert reference.status in ("optimal", "infeasible")
    for name, result in results.items():
        assert result.status == reference.status, name
        if reference.status == "optimal":
            assert result.objective == pytest.approx(reference.objective, rel=1e-6), name
            assert feasible(form, result.x), name
            assert cost @ result.x == pytest.approx(result.objective, rel=1e-9), name  # x in column order
        else:
            assert result.x is None and result.objective is None, name


def test_gscip_through_ortools_agrees_with_highs():
    form = random_form(3)
    scip = ortools_backend.solve(form, SolveOptions(mip_rel_gap=0.0, ortools_solver="gscip"))
    assert scip.status == "optimal" and scip.solver == "ortools:gscip"
    assert scip.objective == pytest.approx(highs.solve(form, EXACT).objective, rel=1e-6)


def test_unknown_ortools_solver_is_named_in_the_error():
    with pytest.raises(ValueError, match="no-such-solver"):
        ortools_backend.solve(random_form(0), SolveOptions(ortools_solver="no-such-solver"))


def test_pyomo_components_are_named_after_blocks_and_families():
    form = random_form(0)
    model = pyomo_backend.build_model(form)
    for name in ("train_choice", "replicas", "flow", "assign", "demand", "replica_capacity", "inventory",
                 "power_cap", "storage_bw", "carbon_budget", "objective"):
        assert model.component(name) is not None, name
    assert len(model.power_cap) == form.families["power_cap"].size
    assert model.power_cap["r0"].upper == pytest.approx(form.families["power_cap"].upper[0])
    assert model.demand["s0", "u1"].equality
    assert model.inventory["r1", "a100-sxm4-80gb"].upper is not None
    assert model.train_choice["j0", "0"].is_binary()
    assert model.replicas[next(iter(model.replicas))].is_integer()
    assert [v.name for v in pyomo_backend.column_vars(model, form)][:2] == ["train_choice[j0,'0']",
                                                                              "train_choice[j0,'1']"]


def test_pyomo_extend_hook_adds_a_user_constraint():
    import pyomo.environ as pyo

    form = random_form(0)
    free = pyomo_backend.solve(form, EXACT)
    chosen = [k for k, v in zip(form.blocks["train_choice"].keys, free.x[form.blocks["train_choice"].cols])
              if v > 0.5]
    job, candidate = chosen[0]

    def ban_chosen_candidate(model):
        model.user_ban = pyo.Constraint(expr=model.train_choice[job, str(candidate)] == 0)

    banned = pyomo_backend.solve(form, EXACT, extend=ban_chosen_candidate)
    assert banned.status == "optimal"
    assert banned.objective > free.objective * (1 + 1e-9)
    assert banned.x[form.blocks["train_choice"].start + candidate] == pytest.approx(0.0, abs=1e-9)


def test_pyomo_rows_without_variables_keep_their_key():
    form = random_form(0)
    fam = form.families["storage_bw"]
    keep = fam.rows != 0           # empty the first storage row, then make it impossible
    fam.rows, fam.cols, fam.vals = fam.rows[keep], fam.cols[keep], fam.vals[keep]
    assert pyomo_backend.build_model(form).storage_bw["r0"].expr is not None
    fam.upper[0] = -1.0
    assert pyomo_backend.solve(form, EXACT).status == "infeasible"
    assert highs.solve(form, EXACT).status == "infeasible"


@pytest.mark.slow
@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_shipped_instances_agree_within_the_gaps(path):
    inst = load_instance(path)
    plans = {name: solve_instance(inst, backend=name, mip_rel_gap=1e-6) for name in BACKENDS}
    for plan in plans.values():
        assert_verified(inst, plan)
    statuses = {name: plan.status for name, plan in plans.items()}
    assert len(set(statuses.values())) == 1, statuses
    if plans["highs"].objective is None:
        return
    for name, plan in plans.items():
        ref = plans["highs"]
        tolerance = (ref.gap + plan.gap + 1e-6) * abs(ref.objective)
        assert math.isclose(plan.objective, ref.objective, abs_tol=tolerance), (name, plan.objective, ref.objective)


@pytest.mark.parametrize("solve", [highs.solve, ortools_backend.solve, pyomo_backend.solve])
def test_a_start_outside_the_bounds_is_ignored_not_fatal(solve):
    """A neighbour's plan may use an option this model fixed at zero (formulation/dominated.py): every backend
    solves as without a start (MathOpt's HiGHS used to fail the whole solve on such a hint)."""
    form, fixed = without_dominated(two_services())
    start = np.zeros(form.n_cols)
    start[form.blocks["replicas"].start + 2] = 1.0   # ("a", "slow"), fixed at zero
    assert fixed == 2 and form.blocks["replicas"].ub[2] == 0.0
    r = solve(form, SolveOptions(start=start, mip_rel_gap=0.0, threads=1))
    assert r.status == "optimal" and r.objective == pytest.approx(highs.solve(form, SolveOptions(threads=1)).objective)
