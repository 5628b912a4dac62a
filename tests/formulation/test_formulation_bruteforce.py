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
from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.formulation.families import build
from fleetopt.io.schema import Instance

REGIONS = ["r0", "r1"]
ACCELS = ["h100-sxm5-80gb", "a100-sxm4-80gb"]


def random_instance(rng) -> Instance:
    regions = {r: {"jurisdiction": "US", "carbon_g_per_kwh": float(rng.uniform(50, 500)),
                   "power_cap_mw": float(rng.uniform(0.5, 3.0)), "storage_gb_s": float(rng.uniform(5, 40)),
                   "gpus": {a: {"count": int(rng.integers(16, 80)), "usd_per_hour": 1.0} for a in ACCELS}}
               for r in REGIONS}
    return Instance.model_validate({
        "fleetopt": 1, "name": "random", "regions": regions,
        "populations": {"u0": {"rtt_ms": {"r0": 10, "r1": 20}}, "u1": {"rtt_ms": {"r0": 30, "r1": 5}}},
        "serving": {"s0": {"model": "m", "demand_rps": {"u0": 1, "u1": 1}, "slo_p99_ms": 1000}},
        "training": {"j0": {"model": "m", "tokens": 1, "global_batch_tokens": 4096, "deadline_hours": 1},
                     "j1": {"model": "m", "tokens": 1, "global_batch_tokens": 4096, "deadline_hours": 1}},
        "models": {"m": {"kind": "transformer", "layers": 2, "hidden": 64, "ffn_hidden": 256, "heads": 2,
                         "vocab": 100}},
        "policy": {"carbon_budget_t": float(rng.uniform(20, 120))},
    })


def random_training(rng, jobs=2, per_job=3) -> TrainingCandidates:
    n = jobs * per_job
    z = np.zeros(n)
    return TrainingCandidates(
        job_names=[f"j{i}" for i in range(jobs)], region_names=REGIONS, accel_names=ACCELS,
        job=np.repeat(np.arange(jobs), per_job), region=rng.integers(0, 2, n), accel=rng.integers(0, 2, n),
        gpus=rng.integers(8, 40, n), tp=np.ones(n, int), pp=np.ones(n, int), dp=np.ones(n, int),
        micro_batch=np.ones(n, int), recompute=np.zeros(n, int), interleave=np.ones(n, int),
        sync_group=np.ones(n, int), checkpoint_interval_s=z + 600, step_time_s=z + 1, compute_s=z, comm_s=z,
        bubble_s=z, sync_s=z, overlap_s=z, mfu=z, memory_gb=z, goodput=z + 1, wall_hours=z + 1,
        power_mw=rng.uniform(0.1, 1.0, n), energy_kwh=z, carbon_t=rng.uniform(1, 40, n),
        cost_usd=rng.uniform(100, 1000, n), storage_gb_s=rng.uniform(0, 10, n), transfer_gb=z,
        binding_term=np.zeros(n, int))


def random_serving(rng, options=3) -> ServingCandidates:
    routes_opt = np.repeat(np.arange(options), 2)
    routes_pop = np.tile([0, 1], options)
    return ServingCandidates(
        service_names=["s0"], region_names=REGIONS, accel_names=ACCELS, population_names=["u0", "u1"],
        service=np.zeros(options, int), region=rng.integers(0, 2, options), accel=rng.integers(0, 2, options),
        tp=np.ones(options, int), precision=np.zeros(options, int), batch=np.arange(options) + 1,
        gpus_per_replica=rng.integers(1, 9, options), power_mw_per_replica=rng.uniform(0.01, 0.2, options),
        energy_kwh_per_replica=np.zeros(options), carbon_t_per_replica=rng.uniform(0.5, 5, options),
        cost_usd_per_replica=rng.uniform(50, 300, options), service_rate_rps=np.ones(options),
        prefill_s=np.zeros(options), decode_s=np.zeros(options),
        route_option=routes_opt, route_population=routes_pop,
        route_capacity_rps=rng.uniform(2, 10, 2 * options), route_rtt_ms=np.zeros(2 * options),
        demand_service=np.zeros(2, int), demand_population=np.array([0, 1]),
        demand_rps=rng.uniform(3, 15, 2), headroom=np.array([0.2]))


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
