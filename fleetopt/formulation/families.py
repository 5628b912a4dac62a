"""The fleet MILP, written once: one function per variable block and per constraint family.

Math (DESIGN.md, "Formulation"); x = train_choice, n = replicas, f = flow:
  assign[j]            sum_c x[j,c] = 1
  demand[s,u]          sum_o f[o,u] = D[s,u]
  replica_capacity[o]  sum_u f[o,u] (1 + headroom_s) / cap[o,u] - n[o] <= 0
  inventory[r,a]       sum_c gpus_c x_c + sum_o gpus_o n_o <= stock[r,a]
  power_cap[r]         sum_c MW_c x_c + sum_o MW_o n_o <= cap[r]
  storage_bw[r]        sum_c GB/s_c x_c <= storage[r]
  carbon_budget        sum_c t_c x_c + sum_o t_o n_o <= budget
Objective: cost (USD), carbon (t), or cost + carbon price x t, all over the horizon.
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance, WeightedObjective


def objective_weights(inst: Instance) -> tuple[float, float, str]:
    """(weight on USD, weight on tonnes CO2e, name of the objective)."""
    price = inst.policy.carbon_price_usd_per_t
    if inst.objective == "carbon":
        return 0.0, 1.0, "carbon_t"
    if isinstance(inst.objective, WeightedObjective):
        return inst.objective.cost, inst.objective.carbon_usd_per_t + price, "weighted_usd"
    return 1.0, price, "cost_usd"


def build(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates) -> Formulation:
    form = Formulation()
    w_usd, w_t, form.objective_name = objective_weights(inst)
    x = add_train_choice(form, tc, w_usd, w_t)
    n = add_replicas(form, inst, sc, w_usd, w_t)
    f = add_flow(form, sc)
    add_assign(form, tc, x)
    add_demand(form, sc, f)
    add_replica_capacity(form, sc, n, f)
    add_inventory(form, inst, tc, sc, x, n)
    add_power_cap(form, inst, tc, sc, x, n)
    add_storage_bw(form, inst, tc, x)
    add_carbon_budget(form, inst, tc, sc, x, n)
    return form


# ---------------------------------------------------------------- variable blocks


def add_train_choice(form, tc: TrainingCandidates, w_usd, w_t):
    keys = [(tc.job_names[j], int(i)) for i, j in enumerate(tc.job)]
    return form.add_vars("train_choice", keys, lb=0, ub=1, integer=True,
                         cost=w_usd * tc.cost_usd + w_t * tc.carbon_t)


def add_replicas(form, inst: Instance, sc: ServingCandidates, w_usd, w_t):
    keys = [option_key(sc, o) for o in range(len(sc))]
    stock = np.array([inst.regions[sc.region_names[r]].gpus[sc.accel_names[a]].count
                      for r, a in zip(sc.region, sc.accel)], dtype=float)
    return form.add_vars("replicas", keys, lb=0, ub=np.floor(stock / sc.gpus_per_replica), integer=True,
                         cost=w_usd * sc.cost_usd_per_replica + w_t * sc.carbon_t_per_replica)


def add_flow(form, sc: ServingCandidates):
    keys = [option_key(sc, o) + (sc.population_names[u],) for o, u in zip(sc.route_option, sc.route_population)]
    return form.add_vars("flow", keys, lb=0)


def option_key(sc: ServingCandidates, o: int) -> tuple:
    precision = "fp8" if sc.precision[o] else "bf16"
    return (sc.service_names[sc.service[o]], sc.region_names[sc.region[o]], sc.accel_names[sc.accel[o]],
            f"tp{sc.tp[o]}-{precision}-b{sc.batch[o]}")


# ---------------------------------------------------------------- constraint families


def add_assign(form, tc: TrainingCandidates, x):
    form.add_rows("assign", [(j,) for j in tc.job_names], tc.job, x.cols, np.ones(len(tc)),
                  lower=1.0, upper=1.0, units="choices", meaning="each training job runs exactly one candidate")


def add_demand(form, sc: ServingCandidates, f):
    pairs = {(int(s), int(u)): i for i, (s, u) in enumerate(zip(sc.demand_service, sc.demand_population))}
    route_service = sc.service[sc.route_option]
    rows = np.array([pairs.get((int(s), int(u)), -1) for s, u in zip(route_service, sc.route_population)],
                    dtype=np.int64)
    keep = rows >= 0
    keys = [(sc.service_names[s], sc.population_names[u]) for s, u in zip(sc.demand_service, sc.demand_population)]
    form.add_rows("demand", keys, rows[keep], f.cols[keep], np.ones(int(keep.sum())),
                  lower=sc.demand_rps, upper=sc.demand_rps, units="requests/s",
                  meaning="all of a population's demand for a service is routed")


def add_replica_capacity(form, sc: ServingCandidates, n, f):
    load_per_rps = (1.0 + sc.headroom[sc.service[sc.route_option]]) / sc.route_capacity_rps
    rows = np.concatenate([sc.route_option, np.arange(len(sc))])
    cols = np.concatenate([f.cols, n.cols])
    vals = np.concatenate([load_per_rps, -np.ones(len(sc))])
    form.add_rows("replica_capacity", n.keys, rows, cols, vals, upper=0.0, units="replicas",
                  meaning="routed load with headroom within replica capacity at the p99 SLO")


def add_inventory(form, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, x, n):
    pairs = [(r, a) for r, reg in inst.regions.items() for a in reg.gpus]
    row_of = {p: i for i, p in enumerate(pairs)}
    # edge devices are not GPU stock: their participation limit is applied when candidates are enumerated
    t_rows = np.array([row_of.get((tc.region_names[r], tc.accel_names[a]), -1) for r, a in zip(tc.region, tc.accel)],
                      dtype=np.int64)
    s_rows = np.array([row_of[(sc.region_names[r], sc.accel_names[a])] for r, a in zip(sc.region, sc.accel)],
                      dtype=np.int64)
    stock = [inst.regions[r].gpus[a].count for r, a in pairs]
    rows = np.concatenate([t_rows, s_rows])
    keep = rows >= 0
    form.add_rows("inventory", pairs, rows[keep], np.concatenate([x.cols, n.cols])[keep],
                  np.concatenate([tc.gpus, sc.gpus_per_replica])[keep], upper=stock, units="GPUs",
                  meaning="GPUs held by training and serving within the region's stock")


def add_power_cap(form, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, x, n):
    capped = [r for r, reg in inst.regions.items() if reg.power_cap_mw is not None]
    row_of = {r: i for i, r in enumerate(capped)}
    t_rows = np.array([row_of.get(tc.region_names[r], -1) for r in tc.region], dtype=np.int64)
    s_rows = np.array([row_of.get(sc.region_names[r], -1) for r in sc.region], dtype=np.int64)
    rows = np.concatenate([t_rows, s_rows])
    keep = rows >= 0
    form.add_rows("power_cap", [(r,) for r in capped], rows[keep], np.concatenate([x.cols, n.cols])[keep],
                  np.concatenate([tc.power_mw, sc.power_mw_per_replica])[keep],
                  upper=[inst.regions[r].power_cap_mw for r in capped], units="MW",
                  meaning="facility power (GPUs x TDP x PUE) within the region's cap")


def add_storage_bw(form, inst: Instance, tc: TrainingCandidates, x):
    regions = list(inst.regions)
    row_of = {r: i for i, r in enumerate(regions)}
    rows = np.array([row_of[tc.region_names[r]] for r in tc.region], dtype=np.int64)
    form.add_rows("storage_bw", [(r,) for r in regions], rows, x.cols, tc.storage_gb_s,
                  upper=[inst.regions[r].storage_gb_s for r in regions], units="GB/s",
                  meaning="checkpoint writes and data loading within the region's storage bandwidth")


def add_carbon_budget(form, inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, x, n):
    budget = inst.policy.carbon_budget_t
    if budget is None:
        return
    cols = np.concatenate([x.cols, n.cols])
    form.add_rows("carbon_budget", [("fleet",)], np.zeros(len(cols), dtype=np.int64), cols,
                  np.concatenate([tc.carbon_t, sc.carbon_t_per_replica]), upper=budget, units="t CO2e",
                  meaning="operational and embodied emissions over the horizon within the budget")
