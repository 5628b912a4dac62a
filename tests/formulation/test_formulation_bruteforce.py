"""The MILP's optimum equals brute-force enumeration of joint choices on random small cases.

Candidate tables are generated at random (not from physics) so the test exercises the formulation alone:
assign, demand, replica_capacity, inventory, power_cap, storage_bw and carbon_budget together.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.families import build
from helpers import ACCELS, REGIONS, random_instance, random_serving, random_training  # noqa: F401

def brute_force(inst, tc, sc, max_replicas=4):
    """Cheapest feasible joint choice by enumeration (routing checked as an LP for each replica vector)."""
    best = np.inf
    per_job = [np.flatnonzero(tc.job == j) for j in range(len(tc.job_names))]
    load = (1 + sc.headroom[0]) / sc.route_capacity_rps
    for pick in itertools.product(*per_job):
        pick = np.array(pick)
        for reps in itertools.product(range(max_replicas + 1), repeat=len(sc)):
            reps = np.array(reps)
            cost = tc.cost_usd[pick].sum() + (reps * sc.cost_usd_per_replica).sum()
            if cost >= best:
                continue
            ok = True
            for r, rn in enumerate(REGIONS):
                reg = inst.regions[rn]
                for a, an in enumerate(ACCELS):
                    used = tc.gpus[pick][(tc.region[pick] == r) & (tc.accel[pick] == a)].sum()
                    used += (reps * sc.gpus_per_replica)[(sc.region == r) & (sc.accel == a)].sum()
                    ok &= used <= reg.gpus[an].count
                mw = tc.power_mw[pick][tc.region[pick] == r].sum() + (reps * sc.power_mw_per_replica)[
                    sc.region == r].sum()
                ok &= mw <= reg.power_cap_mw + 1e-9
                ok &= tc.storage_gb_s[pick][tc.region[pick] == r].sum() <= reg.storage_gb_s + 1e-9
            carbon = tc.carbon_t[pick].sum() + (reps * sc.carbon_t_per_replica).sum()
            ok &= carbon <= inst.policy.carbon_budget_t + 1e-9
            if not ok:
                continue
            # routing: flows f >= 0 with demand met and each option's load within its replicas
            n_routes = len(sc.route_option)
            a_eq = np.zeros((2, n_routes))
            a_eq[sc.route_population, np.arange(n_routes)] = 1
            a_ub = np.zeros((len(sc), n_routes))
            a_ub[sc.route_option, np.arange(n_routes)] = load
            res = linprog(np.zeros(n_routes), A_ub=a_ub, b_ub=reps, A_eq=a_eq, b_eq=sc.demand_rps,
                          bounds=[(0, None)] * n_routes, method="highs")
            if res.status == 0:
                best = cost
    return best


@pytest.mark.parametrize("seed", range(12))
def test_milp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    inst, tc, sc = random_instance(rng), random_training(rng), random_serving(rng)
    form = build(inst, tc, sc)
    form.blocks["replicas"].ub = np.minimum(form.blocks["replicas"].ub, 4)  # the brute force's range
    result = highs.solve(form, SolveOptions(mip_rel_gap=0.0))
    expected = brute_force(inst, tc, sc)
    if np.isinf(expected):
        assert result.status == "infeasible"
    else:
        assert result.status == "optimal"
        assert result.objective == pytest.approx(expected, rel=1e-6)


def test_rows_are_named_after_families():
    rng = np.random.default_rng(0)
    form = build(random_instance(rng), random_training(rng), random_serving(rng))
    names = form.row_names()
    assert "assign[j0]" in names and "demand[s0,u1]" in names and "carbon_budget[fleet]" in names
    assert "power_cap[r0]" in names and "inventory[r1,a100-sxm4-80gb]" in names
    assert len(names) == form.n_rows == len(set(names))
