"""The fleet MILP, written once: one function per variable block and per constraint family.

Math (README, "Formulation"); x = train_choice, n = replicas, f = flow, m = evaluators:
  assign[j]            sum_c x[j,c] = 1
  deadline[j]          sum_c wall_hours_c x[j,c] <= deadline_j      (also enforced by pruning; reported)
  demand[s,u]          sum_o f[o,u] = D[s,u]
  replica_capacity[o]  sum_u f[o,u] (1 + headroom_s) / cap[o,u] - n[o] <= 0
  inventory[r,a]       sum_c gpus_c x_c + sum_o gpus_o n_o + sum m <= stock[r,a]
  power_cap[r]         sum_c MW_c x_c + sum_o MW_o n_o + sum MW m <= cap[r]
  storage_bw[r]        sum_c GB/s_c x_c <= storage[r]
  link_bw[a-b]         sum_c dataset GB_c x_c / staging seconds <= link GB/s   (datasets crossing the link)
  carbon_budget        sum_c t_c x_c + sum_o t_o n_o + sum t m <= budget
  monitoring_*         see formulation/monitoring.py
Each family's units, meaning, layer and relaxable setting are declared once in fleetopt/facts.py;
facts.add_family takes them from there, so the formulation, explain, verify and the README read the same facts.
Objective: cost (USD), carbon (t), or cost + carbon price x t, all over the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.candidates.monitoring import MonitoringTable, monitoring_requirements
from fleetopt.candidates.names import option_key
from fleetopt.candidates.network import shortest_paths
from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.facts import add_family
from fleetopt.formulation.change import add_change
from fleetopt.formulation.model import Formulation, VarBlock
from fleetopt.formulation.monitoring import add_monitoring_families, add_monitoring_vars
from fleetopt.io.schema import Instance, WeightedObjective


def objective_weights(inst: Instance) -> tuple[float, float, str]:
    """(weight on USD, weight on tonnes CO2e, name of the objective)."""
    price = inst.policy.carbon_price_usd_per_t
    if inst.objective == "carbon":
        return 0.0, 1.0, "carbon_t"
    if isinstance(inst.objective, WeightedObjective):
        return inst.objective.cost, inst.objective.carbon_usd_per_t + price, "weighted_usd"
    return 1.0, price, "cost_usd"


@dataclass
class Usage:
    """What each column draws from a region: the region, accelerator, GPUs, MW and t CO2e per unit."""

    cols: np.ndarray
    region: np.ndarray     # index into region_names
    accel: np.ndarray      # accelerator name per column
    gpus: np.ndarray
    mw: np.ndarray
    carbon_t: np.ndarray


def build(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates,
          mon: MonitoringTable | None = None) -> Formulation:
    form = Formulation()
    w_usd, w_t, form.objective_name = objective_weights(inst)
    mon = monitoring_requirements(inst, sc) if mon is None else mon
    x = add_train_choice(form, tc, w_usd, w_t)
    n = add_replicas(form, inst, sc, w_usd, w_t)
    f = add_flow(form, sc)
    z, y, m = add_monitoring_vars(form, sc, mon, w_usd, w_t)
    usage = region_usage(tc, sc, mon, x, n, m)
    add_assign(form, tc, x)
    add_deadline(form, inst, tc, x)
    add_demand(form, sc, f)
    add_replica_capacity(form, sc, n, f)
    add_inventory(form, inst, usage)
    add_power_cap(form, inst, usage)
    add_storage_bw(form, inst, tc, x)
    add_link_bw(form, inst, tc, x)
    add_carbon_budget(form, inst, usage)
    add_monitoring_families(form, sc, mon, f, z, y, m)
    add_change(form, inst, tc, sc, w_usd, w_t)   # re-planning a deployed fleet (formulation/change.py)
    return form


# ---------------------------------------------------------------- variable blocks


def add_train_choice(form, tc: TrainingCandidates, w_usd, w_t):
    keys = [(tc.job_names[j], int(i)) for i, j in enumerate(tc.job)]
    return form.add_vars("train_choice", keys, lb=0, ub=1, integer=True,
                      cost=w_usd * tc.cost_usd + w_t * tc.carbon_t)


def route_demand(sc: ServingCandidates) -> np.ndarray:
    """Per route: the demand of its (service, population)."""
    return sc.demand_of(sc.service[sc.route_option], sc.route_population)


def add_replicas(form, inst: Instance, sc: ServingCandidates, w_usd, w_t):
    keys = [option_key(sc, o) for o in range(len(sc))]
    stock = np.array([inst.regions[sc.region_names[r]].gpus[sc.accel_names[a]].count
                   for r, a in zip(sc.region, sc.accel)], dtype=float)
    # never more replicas than it takes to carry all the demand the option can reach (they cost, so the bound is
    # valid); a tight bound lets presolve and branching work on a small range
    load = route_demand(sc) * (1.0 + sc.headroom[sc.service[sc.route_option]]) / sc.route_capacity_rps
    needed = np.zeros(len(sc))
    np.add.at(needed, sc.route_option, load)
    ub = np.minimum(np.floor(stock / sc.gpus_per_replica), np.ceil(needed - 1e-9))
    return form.add_vars("replicas", keys, lb=0, ub=ub, integer=True,
                      cost=w_usd * sc.cost_usd_per_replica + w_t * sc.carbon_t_per_replica)


def add_flow(form, sc: ServingCandidates):
    keys = [option_key(sc, o) + (sc.population_names[u],) for o, u in zip(sc.route_option, sc.route_population)]
    return form.add_vars("flow", keys, lb=0, ub=route_demand(sc))


def region_usage(tc: TrainingCandidates, sc: ServingCandidates, mon: MonitoringTable,
                 x: VarBlock, n: VarBlock, m: VarBlock) -> Usage:
    """Training, serving and evaluator columns as one table of what they draw from their regions."""
    region_of = {r: i for i, r in enumerate(sc.region_names)}
    t_region = np.array([region_of[tc.region_names[r]] for r in tc.region], dtype=np.int64)
    accel = np.array([tc.accel_names[a] for a in tc.accel] + [sc.accel_names[a] for a in sc.accel]
                  + [sc.accel_names[a] for a in mon.evaluator_accel], dtype=object)
    return Usage(cols=np.concatenate([x.cols, n.cols, m.cols]),
                 region=np.concatenate([t_region, sc.region, mon.pipe_region]).astype(np.int64), accel=accel,
                 gpus=np.concatenate([tc.gpus, sc.gpus_per_replica, np.ones(len(m.cols))]).astype(float),
                 mw=np.concatenate([tc.power_mw, sc.power_mw_per_replica, mon.evaluator_mw_per_gpu]),
                 carbon_t=np.concatenate([tc.carbon_t, sc.carbon_t_per_replica, mon.evaluator_t_per_gpu]))


# ---------------------------------------------------------------- constraint families


def add_assign(form, tc: TrainingCandidates, x):
    add_family(form, "assign", [(j,) for j in tc.job_names], tc.job, x.cols, np.ones(len(tc)),
               lower=1.0, upper=1.0)


def add_deadline(form, inst: Instance, tc: TrainingCandidates, x):
    add_family(form, "deadline", [(j,) for j in tc.job_names], tc.job, x.cols, tc.wall_hours,
               upper=[inst.training[j].deadline_hours for j in tc.job_names])


def add_demand(form, sc: ServingCandidates, f):
    pairs = {(int(s), int(u)): i for i, (s, u) in enumerate(zip(sc.demand_service, sc.demand_population))}
    route_service = sc.service[sc.route_option]
    rows = np.array([pairs.get((int(s), int(u)), -1) for s, u in zip(route_service, sc.route_population)],
                 dtype=np.int64)
    keep = rows >= 0
    keys = [(sc.service_names[s], sc.population_names[u]) for s, u in zip(sc.demand_service, sc.demand_population)]
    add_family(form, "demand", keys, rows[keep], f.cols[keep], np.ones(int(keep.sum())),
               lower=sc.demand_rps, upper=sc.demand_rps)


def add_replica_capacity(form, sc: ServingCandidates, n, f):
    load_per_rps = (1.0 + sc.headroom[sc.service[sc.route_option]]) / sc.route_capacity_rps
    rows = np.concatenate([sc.route_option, np.arange(len(sc))])
    cols = np.concatenate([f.cols, n.cols])
    vals = np.concatenate([load_per_rps, -np.ones(len(sc))])
    add_family(form, "replica_capacity", n.keys, rows, cols, vals, upper=0.0)


def add_inventory(form, inst: Instance, use: Usage):
    names = list(inst.regions)
    pairs = [(r, a) for r, reg in inst.regions.items() for a in reg.gpus]
    row_of = {p: i for i, p in enumerate(pairs)}
    # edge devices are not GPU stock: their participation limit is applied when candidates are enumerated
    rows = np.array([row_of.get((names[r], a), -1) for r, a in zip(use.region, use.accel)], dtype=np.int64)
    keep = rows >= 0
    add_family(form, "inventory", pairs, rows[keep], use.cols[keep], use.gpus[keep],
               upper=[inst.regions[r].gpus[a].count for r, a in pairs])


def add_power_cap(form, inst: Instance, use: Usage):
    names = list(inst.regions)
    capped = [r for r in names if inst.regions[r].power_cap_mw is not None]
    row_of = {names.index(r): i for i, r in enumerate(capped)}
    rows = np.array([row_of.get(int(r), -1) for r in use.region], dtype=np.int64)
    keep = rows >= 0
    add_family(form, "power_cap", [(r,) for r in capped], rows[keep], use.cols[keep], use.mw[keep],
               upper=[inst.regions[r].power_cap_mw for r in capped])


def add_storage_bw(form, inst: Instance, tc: TrainingCandidates, x):
    regions = list(inst.regions)
    row_of = {r: i for i, r in enumerate(regions)}
    rows = np.array([row_of[tc.region_names[r]] for r in tc.region], dtype=np.int64)
    add_family(form, "storage_bw", [(r,) for r in regions], rows, x.cols, tc.storage_gb_s,
               upper=[inst.regions[r].storage_gb_s for r in regions])


def add_link_bw(form, inst: Instance, tc: TrainingCandidates, x):
    """Datasets staged into a job's region cross the links of the lowest-RTT path, within the staging window."""
    if not inst.links:
        return
    staging_s = inst.policy.dataset_staging_hours * 3600.0
    sources = {inst.training[j].dataset_region for j in tc.job_names} - {None}
    from_source = {src: shortest_paths(inst, src) for src in sources}
    paths = {j: from_source[inst.training[j].dataset_region]
             for j in tc.job_names if inst.training[j].dataset_region}
    movers = np.flatnonzero(tc.transfer_gb > 0)
    # one path per (job, region) pair, not per candidate: nonzeros in candidate order, then path order
    pair, pair_of = np.unique(tc.job[movers] * len(tc.region_names) + tc.region[movers], return_inverse=True)
    pair_paths = [paths[tc.job_names[p // len(tc.region_names)]].get(tc.region_names[p % len(tc.region_names)], [])
               for p in pair.tolist()]
    lengths = np.array([len(links) for links in pair_paths], dtype=np.int64)
    padded = np.zeros((len(pair_paths), max(lengths.max(initial=0), 1)), dtype=np.int64)
    for i, links in enumerate(pair_paths):
        padded[i, :len(links)] = links
    counts = lengths[pair_of]
    total = int(counts.sum())
    step = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = padded[np.repeat(pair_of, counts), step]
    cand = np.repeat(movers, counts)
    keys = [(f"{link.a}-{link.b}",) for link in inst.links]
    add_family(form, "link_bw", keys, rows, x.start + cand, tc.transfer_gb[cand] / staging_s,
               upper=[link.gb_s for link in inst.links])


def add_carbon_budget(form, inst: Instance, use: Usage):
    budget = inst.policy.carbon_budget_t
    if budget is None:
        return
    add_family(form, "carbon_budget", [("fleet",)], np.zeros(len(use.cols), dtype=np.int64), use.cols,
               use.carbon_t, upper=budget)
