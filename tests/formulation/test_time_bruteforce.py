"""The MILP over time slices equals brute force on tiny random cases: every joint choice of layouts and of
replicas per slice enumerated, the fluid rest (run shares, resumes, flows) an LP written here from the model's
definitions (formulation/time.py), not from the formulation's rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from fleetopt.backends import highs
from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.families import build
from fleetopt.io.timeline import Timeline
from helpers import ACCELS, REGIONS, random_instance, random_training

HORIZON = 48.0
SLICES = 3                     # three 8-hour slices of a typical day, over two days
WEIGHTS = np.full(SLICES, 16.0)
DAYS = 2.0
MAX_REPLICAS = 2


def tiny_case(seed: int):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng)
    inst.horizon_hours, inst.objective = HORIZON, "carbon"
    for name, job in inst.training.items():
        job.deadline_hours, job.pausable, job.checkpoint_restart_min = HORIZON, name == "j0", 30.0
    tc = random_training(rng, jobs=2, per_job=2)
    tc.wall_hours = rng.uniform(8.0, 30.0, len(tc))
    sc = one_population_serving(rng)
    # charges as the physics makes them: operational carbon at the region's constant intensity plus embodied,
    # so no hour of use ever emits less than nothing whatever the slice's intensity
    mean = np.array([inst.regions[r].mean_carbon_g_per_kwh for r in REGIONS])
    hours = np.minimum(tc.wall_hours, HORIZON)
    tc.carbon_t = tc.power_mw * 1e3 * hours * mean[tc.region] / 1e6 + rng.uniform(0.0, 2.0, len(tc))
    sc.carbon_t_per_replica = (sc.power_mw_per_replica * 1e3 * HORIZON * mean[sc.region] / 1e6
                               + rng.uniform(0.0, 1.0, len(sc)))
    carbon = {f"regions.{r}.carbon_g_per_kwh": rng.uniform(20, 600, SLICES) for r in REGIONS}
    demand = {"serving.s0.demand_rps.u0": rng.uniform(1.0, 12.0, SLICES)}
    inst._timeline = Timeline(step_hours=8.0, weights=WEIGHTS, start_hour=np.arange(SLICES) * 8.0,
                              day=np.zeros(SLICES, dtype=np.int64),
                              members=tuple(np.array([s, s + SLICES]) for s in range(SLICES)),
                              values={**carbon, **demand})
    return inst, tc, sc


def one_population_serving(rng):
    from fleetopt.candidates.tables import ServingCandidates
    o = 2
    return ServingCandidates(
        service_names=["s0"], region_names=REGIONS, accel_names=ACCELS, population_names=["u0"],
        service=np.zeros(o, int), region=np.array([0, 1]), accel=rng.integers(0, 2, o), tp=np.ones(o, int),
        precision=np.zeros(o, int), batch=np.ones(o, int), gpus_per_replica=rng.integers(1, 9, o),
        power_mw_per_replica=rng.uniform(0.01, 0.2, o), energy_kwh_per_replica=np.zeros(o),
        carbon_t_per_replica=rng.uniform(0.5, 5, o), cost_usd_per_replica=rng.uniform(50, 300, o),
        service_rate_rps=np.ones(o), prefill_s=np.zeros(o), decode_s=np.zeros(o),
        route_option=np.arange(o), route_population=np.zeros(o, int), route_capacity_rps=rng.uniform(4, 10, o),
        route_rtt_ms=np.zeros(o), demand_service=np.zeros(1, int), demand_population=np.zeros(1, int),
        demand_rps=np.array([6.0]), headroom=np.array([0.2]))


def per_hour_t(inst, region: int, static_t, hours, mw):
    """t CO2e per hour in each slice: the static rate, plus MW x (slice intensity - the region's constant)."""
    name = REGIONS[region]
    profile = inst.timeline.values[f"regions.{name}.carbon_g_per_kwh"]
    return static_t / hours + mw * 1e3 * (profile - inst.regions[name].mean_carbon_g_per_kwh) / 1e6


def brute_force(inst, tc, sc) -> float:
    best = np.inf
    demand = inst.timeline.values["serving.s0.demand_rps.u0"]
    load = (1 + sc.headroom[0]) / sc.route_capacity_rps          # replicas per request/s, per option
    rep_t = np.array([WEIGHTS * per_hour_t(inst, sc.region[o], sc.carbon_t_per_replica[o], HORIZON,
                                           sc.power_mw_per_replica[o]) for o in range(len(sc))])
    per_job = [np.flatnonzero(tc.job == j) for j in range(2)]
    for pick in itertools.product(*per_job):
        pick_storage = [tc.storage_gb_s[list(pick)][tc.region[list(pick)] == r].sum() for r in range(len(REGIONS))]
        if any(pick_storage[r] > inst.regions[name].storage_gb_s + 1e-9 for r, name in enumerate(REGIONS)):
            continue
        for reps in itertools.product(range(MAX_REPLICAS + 1), repeat=len(sc) * SLICES):
            n = np.array(reps, dtype=float).reshape(len(sc), SLICES)
            if np.any((n / load[:, None]).sum(axis=0) < demand - 1e-9):
                continue
            fixed = float((n * rep_t).sum())
            if fixed >= best:
                continue
            best = min(best, fixed + fluid_optimum(inst, tc, sc, pick, n, demand, load))
    return best


def fluid_optimum(inst, tc, sc, pick, n, demand, load) -> float:
    """min carbon of the run shares, resumes and flows for fixed layouts and replicas (inf if infeasible).
    Columns: run[job, s] (2 x S), resume[s] of the pausable job j0, flow[o, s]."""
    S, O = SLICES, len(sc)
    nv = 2 * S + S + O * S
    run = lambda j, s: j * S + s            # noqa: E731
    res = lambda s: 2 * S + s               # noqa: E731
    flow = lambda o, s: 3 * S + o * S + s   # noqa: E731
    cost = np.zeros(nv)
    a_ub, b_ub, a_eq, b_eq = [], [], [], []
    for j, c in enumerate(pick):
        hours = min(tc.wall_hours[c], HORIZON)
        t = per_hour_t(inst, tc.region[c], tc.carbon_t[c], hours, tc.power_mw[c])
        for s in range(S):
            cost[run(j, s)] = WEIGHTS[s] * t[s]
        row = np.zeros(nv)                  # coverage: hours run less restarts >= wall hours
        for s in range(S):
            row[run(j, s)] = -WEIGHTS[s]
            if j == 0:
                row[res(s)] = 0.5 * DAYS    # 30 min per resume, on each day the slice stands for
        a_ub.append(row), b_ub.append(-min(tc.wall_hours[c], HORIZON))
    for s in range(S):                      # pausable j0 resumes where its share rises (cyclic)
        row = np.zeros(nv)
        row[run(0, s)], row[run(0, (s - 1) % S)], row[res(s)] = 1, -1, -1
        a_ub.append(row), b_ub.append(0.0)
    for s in range(1, S):                   # j1 cannot pause: the same share in every slice
        row = np.zeros(nv)
        row[run(1, s)], row[run(1, 0)] = 1, -1
        a_eq.append(row), b_eq.append(0.0)
    for s in range(S):
        row = np.zeros(nv)
        for o in range(O):
            row[flow(o, s)] = 1
            cap = np.zeros(nv)
            cap[flow(o, s)] = load[o]
            a_ub.append(cap), b_ub.append(n[o, s])
        a_eq.append(row), b_eq.append(demand[s])
        for r in range(len(REGIONS)):       # power and stock per slice
            mw, fixed_mw = np.zeros(nv), float((n[:, s] * sc.power_mw_per_replica)[sc.region == r].sum())
            for j, c in enumerate(pick):
                if tc.region[c] == r:
                    mw[run(j, s)] = tc.power_mw[c]
            a_ub.append(mw), b_ub.append(inst.regions[REGIONS[r]].power_cap_mw - fixed_mw)
            for a, aname in enumerate(ACCELS):
                g = np.zeros(nv)
                for j, c in enumerate(pick):
                    if tc.region[c] == r and tc.accel[c] == a:
                        g[run(j, s)] = tc.gpus[c]
                mine = (sc.region == r) & (sc.accel == a)
                a_ub.append(g), b_ub.append(inst.regions[REGIONS[r]].gpus[aname].count
                                            - float((n[mine, s] * sc.gpus_per_replica[mine]).sum()))
    replicas_t = float((n * np.array([WEIGHTS * per_hour_t(inst, sc.region[o], sc.carbon_t_per_replica[o], HORIZON,
                                                            sc.power_mw_per_replica[o]) for o in range(O)])).sum())
    a_ub.append(cost.copy()), b_ub.append(inst.policy.carbon_budget_t - replicas_t)
    bounds = [(0, 1)] * (2 * S) + [(0, 1)] * S + [(0, None)] * (O * S)
    out = linprog(cost, A_ub=np.array(a_ub), b_ub=np.array(b_ub), A_eq=np.array(a_eq), b_eq=np.array(b_eq),
                  bounds=bounds, method="highs")
    return out.fun if out.status == 0 else np.inf


@pytest.mark.parametrize("seed", [0, 1, 4] + [pytest.param(s, marks=pytest.mark.slow) for s in (2, 3, 5)])
def test_milp_over_slices_matches_brute_force(seed):
    inst, tc, sc = tiny_case(seed)
    form = build(inst, tc, sc)
    form.blocks["replicas"].ub = np.minimum(form.blocks["replicas"].ub, MAX_REPLICAS)
    result = highs.solve(form, SolveOptions(mip_rel_gap=0.0))
    expected = brute_force(inst, tc, sc)
    if np.isinf(expected):
        assert result.status == "infeasible"
    else:
        assert result.status == "optimal"
        assert result.objective == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_slices_name_rows_and_columns():
    inst, tc, sc = tiny_case(0)
    form = build(inst, tc, sc)
    rows, cols = form.row_names(), form.col_names()
    assert "demand[s0,u0,d0h8]" in rows and "coverage[j0,0]" in rows and "run_resume[j0,0,d0h16]" in rows
    assert "inventory[r1,a100-sxm4-80gb,d0h0]" in rows and "power_cap[r0,d0h16]" in rows
    assert "train_run[j1,3,d0h0]" in cols and "replicas" in form.blocks
    assert len(rows) == len(set(rows)) and len(cols) == len(set(cols))
    # a job that cannot pause gets steady rows, a pausable one resume rows, never both
    assert not any(r.startswith("run_steady[j0,") for r in rows) and not any(r.startswith("run_resume[j1,")
                                                                              for r in rows)
