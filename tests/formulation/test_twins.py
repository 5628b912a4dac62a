"""Serving options that k replicas of a twin replace at no loss (formulation/twins.py): which are fixed, which
are not, and that fixing them keeps the optimum and verified plans."""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.model import Formulation
from fleetopt.io.load import load_instance
from fleetopt.formulation.twins import dominated_options, with_dominated_fixed
from fleetopt.pipeline.problem import build_problem
from fleetopt.pipeline.solve import options_for, solve_problem
from helpers import REPO, TINY, assert_verified, static_shipped_instances

# (config, USD per replica, GPUs per replica, load per request/s of each population)
TP4 = ("tp4", 4.0, 4, (0.200, 0.201))
TP8 = ("tp8", 8.0, 8, (0.101, 0.102))   # carries 9.9 rps for the cost of two tp4 replicas (10 rps): dominated


def _model(options, demand=(30.0, 12.0), stock=64.0, ub=None) -> Formulation:
    """One service in one region: replicas and flows of `options` to two populations, demand rows, the
    replicas' capacity rows and one GPU stock row."""
    form = Formulation()
    keys = [("svc", "r1", "gpu", cfg) for cfg, *_ in options]
    need = [np.ceil(sum(a * d for a, d in zip(loads, demand)) - 1e-9) for *_, loads in options]
    n = form.add_vars("replicas", keys, lb=0, ub=need if ub is None else ub, integer=True,
                      cost=[c for _, c, _, _ in options])
    pops = ("p1", "p2")
    f = form.add_vars("flow", [k + (u,) for k in keys for u in pops], lb=0,
                      ub=np.tile(demand, len(options)))
    rows, cols, vals = [], [], []
    for o, (*_, loads) in enumerate(options):
        for u in range(2):
            rows.append(o), cols.append(f.start + 2 * o + u), vals.append(loads[u])
        rows.append(o), cols.append(n.start + o), vals.append(-1.0)
    form.add_rows("replica_capacity", keys, rows, cols, vals, upper=0.0)
    form.add_rows("demand", [("svc", u) for u in pops], [u for o in range(len(options)) for u in range(2)],
                  [f.start + 2 * o + u for o in range(len(options)) for u in range(2)],
                  np.ones(2 * len(options)), lower=list(demand), upper=list(demand))
    form.add_rows("stock", [("r1", "gpu")], np.zeros(len(options)), n.cols, [g for _, _, g, _ in options],
                  upper=stock, shared=True)
    return form


def _optimum(form: Formulation) -> float:
    r = highs.solve(form, SolveOptions(threads=1, mip_rel_gap=0.0, time_limit_s=30))
    return r.objective


def test_twin_carrying_less_for_the_same_cost_is_fixed_and_the_optimum_stays():
    form = _model([TP4, TP8])
    assert dominated_options(form).tolist() == [False, True]
    fixed, count = with_dominated_fixed(form)
    assert count == 1
    assert fixed.blocks["replicas"].ub[1] == 0 and (fixed.blocks["flow"].ub[2:] == 0).all()
    assert form.blocks["replicas"].ub[1] > 0   # the model itself is left as it was
    assert _optimum(fixed) == pytest.approx(_optimum(form), rel=1e-9)


@pytest.mark.parametrize("why, options, kw", [
    ("a cent cheaper than its two twins", [TP4, ("tp8", 7.99, 8, (0.101, 0.102))], {}),
    ("carries more than two twins", [TP4, ("tp8", 8.0, 8, (0.099, 0.099))], {}),
    ("draws fewer GPUs than two twins", [TP4, ("tp8", 8.0, 7, (0.101, 0.102))], {}),
    ("the twin's replica bound is below what the demand needs", [TP4, TP8], {"ub": [3, 5]}),
])
def test_an_option_that_is_not_dominated_is_kept(why, options, kw):
    assert not dominated_options(_model(options, **kw)).any(), why


def test_identical_twins_never_fix_each_other():
    form = _model([TP4, ("tp4b",) + TP4[1:]])
    assert dominated_options(form).sum() == 1
    fixed, _ = with_dominated_fixed(form)
    assert _optimum(fixed) == pytest.approx(_optimum(form), rel=1e-9)


def test_global_fleet_tp8_twins_are_fixed():
    form = build_problem(load_instance(REPO / "instances" / "global-fleet.yaml")).form
    n = form.blocks["replicas"]
    fixed = {n.keys[i] for i in np.flatnonzero(dominated_options(form))}
    assert ("summarize", "us-east", "a100-sxm4-80gb", "tp8-bf16-b256") in fixed
    assert ("summarize", "us-east", "a100-sxm4-80gb", "tp4-bf16-b256") not in fixed
    assert not any(k[3].startswith("tp1-") for k in fixed)   # nothing replaces the smallest replica


def _solved(inst, presolve_twins: bool):
    name, opts = options_for(inst, threads=1)
    opts.presolve_twins = presolve_twins
    plan, _ = solve_problem(build_problem(inst), name, opts)
    return assert_verified(inst, plan)


@pytest.mark.parametrize("path", [TINY] + [p for p in static_shipped_instances() if "global-fleet" not in p.name],
                         ids=lambda p: p.stem)
def test_fixing_twins_keeps_the_optimum_within_the_gap(path):
    inst = load_instance(path)
    with_fixing, without = _solved(inst, True), _solved(inst, False)
    assert with_fixing.status == without.status
    if without.objective is not None:
        assert with_fixing.objective == pytest.approx(without.objective, rel=2e-4)
