"""The fleet MILP, written once: one function per variable block and per constraint family.

Math (README, "Formulation"); x = train_choice, n = replicas, f = flow, m = evaluators:
  assign[j]            sum_c x[j,c] = 1
  deadline[j]          sum_c wall_hours_c x[j,c] <= deadline_j      (also enforced by pruning; reported)
  demand[s,u]          sum_o f[o,u] = D[s,u]
  replica_capacity[o]  sum_u f[o,u] (1 + headroom_s) / cap[o,u] - n[o] <= 0
  inventory[r,a]       sum_c gpus_c x_c + sum_o gpus_o n_o + sum m - reserved[r,a] <= stock[r,a] (spot apart)
  procurement classes  see add_procurement: spot_stock, reserved_stock, reserved_use (format version 2 only)
  power_cap[r]         sum_c MW_c x_c + sum_o MW_o n_o + sum MW m <= cap[r]
  storage_bw[r]        sum_c GB/s_c x_c <= storage[r]
  link_bw[a-b]         sum_c dataset GB_c x_c / staging seconds <= link GB/s   (datasets crossing the link)
  carbon_budget        sum_c t_c x_c + sum_o t_o n_o + sum t m <= budget
  monitoring_*         see formulation/monitoring.py
Over S > 1 time slices (formulation/time.py) every row above that holds per slice (demand, replica_capacity,
inventory, power_cap, monitoring traffic and samples) gains a trailing slice in its key, replicas and flows are
per slice, and training runs run[j,c,s] within its window:
  run_window[j,c,s]    run[c,s] <= a[c,s] x[c]
  run_steady[j,c,s]    a[c,s0] run[c,s] = a[c,s] run[c,s0]         (a job that cannot pause runs around the clock)
  run_resume[j,c,s]    run[c,s] - run[c,prev(s)] <= resume[c,s]     (pausable: a resume, cyclic within a day)
  coverage[j,c]        sum_s w_s run[c,s] - restart_h sum_s days_s resume[c,s] >= required_hours_c x[c]
Each family's units, meaning, layer and relaxable setting are declared once in fleetopt/facts.py;
facts.add_family takes them from there, so the formulation, explain, verify and the README read the same facts.
Objective: cost (USD), carbon (t), or cost + carbon price x t, all over the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.candidates.monitoring import MonitoringTable, monitoring_requirements
from fleetopt.candidates.names import option_keys
from fleetopt.candidates.network import shortest_paths
from fleetopt.candidates.tables import SPOT, ServingCandidates, TrainingCandidates, pair_index
from fleetopt.facts import add_family
from fleetopt.formulation.change import add_change
from fleetopt.formulation.model import Formulation, VarBlock
from fleetopt.formulation.monitoring import add_monitoring_families, add_monitoring_vars
from fleetopt.formulation.time import (
    Slices,
    TrainingTime,
    demand_by_slice,
    per_hour_charges,
    serving_charges,
    slices_of,
    training_time,
)
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
    """What each column draws from a region: the region, accelerator, GPUs, MW and t CO2e per unit, and the
    slice it draws in (-1: every slice, as evaluators held over the horizon)."""

    cols: np.ndarray
    region: np.ndarray     # index into region_names
    accel: np.ndarray      # accelerator name per column
    gpus: np.ndarray
    mw: np.ndarray
    carbon_t: np.ndarray
    slice: np.ndarray
    spot: np.ndarray       # bool: drawn from the spot stock (else on-demand, reserved first)
    billed: np.ndarray     # GPUs billed per unit: gpus x hours charged / hours of its slice (reserved_use)


@dataclass
class TimeLayout:
    """What extraction needs to read a plan over slices back (None on a static formulation)."""

    slices: Slices
    training: TrainingTime
    replica_usd: np.ndarray     # [O, S] USD of one replica held through each slice
    replica_t: np.ndarray
    evaluator_usd: np.ndarray   # [P] per evaluator GPU over the horizon
    evaluator_t: np.ndarray


def build(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates,
          mon: MonitoringTable | None = None) -> Formulation:
    form = Formulation()
    w_usd, w_t, form.objective_name = objective_weights(inst)
    mon = monitoring_requirements(inst, sc) if mon is None else mon
    sl = slices_of(inst)
    tt = training_time(inst, tc, sl) if sl.n > 1 else None
    demand = demand_by_slice(inst, sc, sl)
    x = add_train_choice(form, tc, tt, w_usd, w_t)
    run, resume = add_train_run(form, tc, sl, tt, w_usd, w_t)
    replica_usd, replica_t = serving_charges(inst, sc, sl)
    n = add_replicas(form, inst, sc, sl, demand, replica_usd, replica_t, w_usd, w_t)
    f = add_flow(form, sc, sl, demand)
    eval_usd, eval_t = evaluator_charges(inst, sc, mon, sl)
    z, y, m = add_monitoring_vars(form, sc, mon, w_usd, w_t, eval_usd, eval_t)
    usage = region_usage(tc, sc, mon, sl, tt, x, run, n, m, replica_t, eval_t)
    add_assign(form, tc, x)
    add_deadline(form, inst, tc, x)
    if run is not None:
        add_run_window(form, tc, sl, tt, x, run)
        add_run_steady(form, tc, sl, tt, run)
        add_run_resume(form, tc, sl, tt, run, resume)
        add_coverage(form, tc, sl, tt, x, run, resume)
    add_demand(form, sc, sl, demand, f)
    add_replica_capacity(form, sc, sl, n, f)
    reserved = add_reserved(form, inst, sl, w_usd)
    add_inventory(form, inst, sl, usage, reserved)
    add_procurement(form, inst, sl, usage, reserved)
    add_power_cap(form, inst, sl, usage)
    add_storage_bw(form, inst, tc, x)
    add_link_bw(form, inst, tc, x)
    add_carbon_budget(form, inst, usage)
    add_monitoring_families(form, sc, mon, sl, demand, f, z, y, m)
    if sl.n > 1:
        form.time = TimeLayout(sl, tt, replica_usd, replica_t, eval_usd, eval_t)
    add_change(form, inst, tc, sc, w_usd, w_t)   # re-planning a deployed fleet (formulation/change.py)
    return form


# ---------------------------------------------------------------- variable blocks


def add_train_choice(form, tc: TrainingCandidates, tt: TrainingTime | None, w_usd, w_t):
    keys = [(tc.job_names[j], int(i)) for i, j in enumerate(tc.job)]
    # over slices a layout's hours are charged on its run columns; the choice keeps what is paid once
    cost = w_usd * tc.cost_usd + w_t * tc.carbon_t if tt is None else w_usd * tt.one_off_usd
    return form.add_vars("train_choice", keys, lb=0, ub=1, integer=True, cost=cost)


def add_train_run(form, tc: TrainingCandidates, sl: Slices, tt: TrainingTime | None, w_usd, w_t):
    """run[j,c,s] (fraction of slice s's hours the layout runs) and, for pausable jobs, resume[j,c,s]."""
    if tt is None:
        return None, None
    keys = sl.keys([(tc.job_names[j], int(i)) for i, j in enumerate(tc.job)])
    run = form.add_vars("train_run", keys, lb=0, ub=tt.window.ravel(), cost=(w_usd * tt.usd + w_t * tt.t).ravel())
    paused = np.flatnonzero(tt.pausable)
    resume = form.add_vars("train_resume", sl.keys([(tc.job_names[tc.job[c]], int(c)) for c in paused]), lb=0,
                           ub=1)
    return run, resume


def class_count(stock, spot: bool) -> int:
    """GPUs a class may hold: the spot count, or the on-demand count plus the reserved count."""
    if spot:
        return stock.spot.count if stock.spot is not None else 0
    return stock.count + (stock.reserved.count if stock.reserved is not None else 0)


def route_demand(sc: ServingCandidates) -> np.ndarray:
    """Per route: the demand of its (service, population)."""
    return sc.demand_of(sc.service[sc.route_option], sc.route_population)


def route_pair(sc: ServingCandidates) -> np.ndarray:
    """Per route: the index of its (service, population) among the pairs with demand (-1: none)."""
    return pair_index(sc.demand_service, sc.demand_population, sc.service[sc.route_option], sc.route_population)


def route_demand_by_slice(sc: ServingCandidates, demand: np.ndarray) -> np.ndarray:
    """[routes, S] the demand of each route's (service, population) per slice."""
    pair = route_pair(sc)
    out = np.zeros((len(pair), demand.shape[1]))
    out[pair >= 0] = demand[pair[pair >= 0]]
    return out


def add_replicas(form, inst: Instance, sc: ServingCandidates, sl: Slices, demand, usd, t, w_usd, w_t):
    keys = sl.keys(option_keys(sc))
    stock = np.array([class_count(inst.regions[sc.region_names[r]].gpus[sc.accel_names[a]], cls == SPOT)
                      for r, a, cls in zip(sc.region, sc.accel, sc.procurement)], dtype=float)
    # never more replicas than it takes to carry all the demand the option can reach (they cost, so the bound is
    # valid); a tight bound lets presolve and branching work on a small range
    load = (route_demand_by_slice(sc, demand) * ((1.0 + sc.headroom[sc.service[sc.route_option]])
                                                 / sc.route_capacity_rps)[:, None])
    needed = np.zeros((len(sc), sl.n))
    np.add.at(needed, sc.route_option, load)
    ub = np.minimum(np.floor(stock / sc.gpus_per_replica)[:, None], np.ceil(needed - 1e-9))
    return form.add_vars("replicas", keys, lb=0, ub=ub.ravel(), integer=True, cost=(w_usd * usd + w_t * t).ravel())


def add_flow(form, sc: ServingCandidates, sl: Slices, demand):
    options, populations = option_keys(sc), sc.population_names
    keys = sl.keys([options[o] + (populations[u],) for o, u in zip(sc.route_option.tolist(),
                                                                   sc.route_population.tolist())])
    return form.add_vars("flow", keys, lb=0, ub=route_demand_by_slice(sc, demand).ravel())


def evaluator_charges(inst: Instance, sc: ServingCandidates, mon: MonitoringTable, sl: Slices):
    """[P] USD and t CO2e of one evaluator GPU held over the horizon: the weighted sum over slices."""
    names = list(inst.regions)
    region = np.array([names.index(sc.region_names[r]) for r in mon.pipe_region], dtype=np.int64)
    excl = np.array([not inst.regions[sc.region_names[r]].gpus[sc.accel_names[a]].includes_energy
                     for r, a in zip(mon.pipe_region, mon.evaluator_accel)], dtype=bool)
    usd, t = per_hour_charges(inst, sl, region, mon.evaluator_mw_per_gpu, excl, mon.evaluator_usd_per_gpu,
                              mon.evaluator_t_per_gpu, inst.horizon_hours)
    usd = sl.static_or(mon.evaluator_usd_per_gpu, usd.reshape(len(region), sl.n)).sum(axis=1)
    t = sl.static_or(mon.evaluator_t_per_gpu, t.reshape(len(region), sl.n)).sum(axis=1)
    return usd, t


def region_usage(tc: TrainingCandidates, sc: ServingCandidates, mon: MonitoringTable, sl: Slices,
                 tt: TrainingTime | None, x: VarBlock, run: VarBlock | None, n: VarBlock, m: VarBlock,
                 replica_t: np.ndarray, eval_t: np.ndarray) -> Usage:
    """Training, serving and evaluator columns as one table of what they draw from their regions, per slice:
    a layout draws through x on one slice, through run[c,s] over many; replicas through n[o,s]."""
    region_of = {r: i for i, r in enumerate(sc.region_names)}
    t_region = np.array([region_of[tc.region_names[r]] for r in tc.region], dtype=np.int64)
    S = sl.n
    slots = np.tile(np.arange(S), len(tc))
    if run is None:
        t_cols, t_carbon, t_slice = x.cols, tc.carbon_t, np.zeros(len(tc), dtype=np.int64)
        # a static layout holds its GPUs for the horizon and is billed for its wall hours within it
        t_billed = tc.gpus * np.minimum(tc.wall_hours, sl.timeline.weights[0]) / sl.timeline.weights[0]
    else:
        t_cols, t_carbon, t_slice = run.cols, tt.t.ravel(), slots
        t_billed = np.repeat(tc.gpus, S).astype(float)   # run is the share of the slice's hours it holds them

    def per_slice(a):
        return np.repeat(a, S)

    t_accel = [tc.accel_names[a] for a in np.repeat(tc.accel, len(t_cols) // max(len(tc), 1))]
    accel = np.array(t_accel + [sc.accel_names[a] for a in per_slice(sc.accel)]
                     + [sc.accel_names[a] for a in mon.evaluator_accel], dtype=object)
    t_rep = len(t_cols) // max(len(tc), 1)
    return Usage(cols=np.concatenate([t_cols, n.cols, m.cols]),
                 region=np.concatenate([np.repeat(t_region, t_rep), per_slice(sc.region),
                                        mon.pipe_region]).astype(np.int64), accel=accel,
                 gpus=np.concatenate([np.repeat(tc.gpus, t_rep), per_slice(sc.gpus_per_replica),
                                      np.ones(len(m.cols))]).astype(float),
                 mw=np.concatenate([np.repeat(tc.power_mw, t_rep), per_slice(sc.power_mw_per_replica),
                                    mon.evaluator_mw_per_gpu]),
                 carbon_t=np.concatenate([t_carbon, replica_t.ravel(), eval_t]),
                 slice=np.concatenate([t_slice, np.tile(np.arange(S), len(sc)),
                                       np.full(len(m.cols), -1)]).astype(np.int64),
                 spot=np.concatenate([np.repeat(tc.procurement == SPOT, t_rep), per_slice(sc.procurement == SPOT),
                                      np.zeros(len(m.cols), dtype=bool)]),
                 billed=np.concatenate([t_billed, per_slice(sc.gpus_per_replica).astype(float),
                                        np.ones(len(m.cols))]))


def over_slices(base_rows: np.ndarray, slot: np.ndarray, S: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a family over S slices: entry i goes to row base_rows[i] x S + its slice, or to every slice of
    its base row when its slice is -1. Returns (rows, the entry each nonzero comes from), in entry order."""
    counts = np.where(slot < 0, S, 1)
    entry = np.repeat(np.arange(len(slot)), counts)
    first = np.cumsum(counts) - counts
    step = np.arange(len(entry)) - np.repeat(first, counts)
    slots = np.where(slot[entry] < 0, step, slot[entry])
    return base_rows[entry] * S + slots, entry


# ---------------------------------------------------------------- constraint families


def add_assign(form, tc: TrainingCandidates, x):
    add_family(form, "assign", [(j,) for j in tc.job_names], tc.job, x.cols, np.ones(len(tc)),
               lower=1.0, upper=1.0)


def add_deadline(form, inst: Instance, tc: TrainingCandidates, x):
    # the job's window opens at earliest_start_hour: its wall hours fit between that and the deadline
    add_family(form, "deadline", [(j,) for j in tc.job_names], tc.job, x.cols, tc.wall_hours,
               upper=[inst.training[j].deadline_hours - inst.training[j].earliest_start_hour for j in tc.job_names])


def _cand_slice(C: int, S: int) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, slice) of each run column, candidate-major."""
    return np.repeat(np.arange(C), S), np.tile(np.arange(S), C)


def add_run_window(form, tc: TrainingCandidates, sl: Slices, tt: TrainingTime, x, run):
    """run[c,s] <= a[c,s] x[c]: a layout runs only once chosen, and only in its window."""
    c, s = _cand_slice(len(tc), sl.n)
    live = np.flatnonzero(tt.window.ravel() > 0)
    local = np.arange(len(live))
    add_family(form, "run_window", [run.keys[i] for i in live], np.concatenate([local, local]),
               np.concatenate([run.cols[live], x.cols[c[live]]]),
               np.concatenate([np.ones(len(live)), -tt.window[c[live], s[live]]]), upper=0.0)


def add_run_steady(form, tc: TrainingCandidates, sl: Slices, tt: TrainingTime, run):
    """A job that cannot pause runs the same share of every slice in its window: a[c,s0] run[c,s] = a[c,s]
    run[c,s0], s0 its window's first slice (it cannot pick hours of the day; it runs around the clock)."""
    steady = ~tt.pausable[:, None] & (tt.window > 0)
    first = np.argmax(steady, axis=1)
    c, s = np.nonzero(steady & (np.arange(sl.n)[None, :] != first[:, None]))
    local = np.arange(len(c))
    add_family(form, "run_steady", [run.keys[i * sl.n + j] for i, j in zip(c, s)], np.concatenate([local, local]),
               np.concatenate([run.cols[c * sl.n + s], run.cols[c * sl.n + first[c]]]),
               np.concatenate([tt.window[c, first[c]], -tt.window[c, s]]), lower=0.0, upper=0.0)


def add_run_resume(form, tc: TrainingCandidates, sl: Slices, tt: TrainingTime, run, resume):
    """run[c,s] - run[c,prev(s)] <= resume[c,s]: a pausable layout resumes where its share rises."""
    paused = np.flatnonzero(tt.pausable)
    c, s = np.repeat(paused, sl.n), np.tile(np.arange(sl.n), len(paused))
    local = np.arange(len(c))
    add_family(form, "run_resume", resume.keys, np.concatenate([local, local, local]),
               np.concatenate([run.cols[c * sl.n + s], run.cols[c * sl.n + sl.prev[s]], resume.cols]),
               np.concatenate([np.ones(len(c)), -np.ones(len(c)), -np.ones(len(c))]), upper=0.0)


def add_coverage(form, tc: TrainingCandidates, sl: Slices, tt: TrainingTime, x, run, resume):
    """sum_s w_s run[c,s] - restart_h sum_s days_s resume[c,s] >= required hours x[c]: the hours run, less a
    checkpoint read and warm-up per resume, cover the layout's wall hours (failures and checkpoints included).
    Source: physics/reliability.goodput's restart term (checkpoint_restart_min), charged once per resume."""
    c, s = _cand_slice(len(tc), sl.n)
    paused = np.flatnonzero(tt.pausable)
    pc, ps = np.repeat(paused, sl.n), np.tile(np.arange(sl.n), len(paused))
    add_family(form, "coverage", [(tc.job_names[j], int(i)) for i, j in enumerate(tc.job)],
               np.concatenate([c, pc, np.arange(len(tc))]), np.concatenate([run.cols, resume.cols, x.cols]),
               np.concatenate([sl.weights[s], -tt.restart_hours[pc] * sl.days[ps], -tt.required_hours]), lower=0.0)


def add_demand(form, sc: ServingCandidates, sl: Slices, demand, f):
    pair = route_pair(sc)
    keep = np.flatnonzero(pair >= 0)
    S = sl.n
    rows = (pair[keep][:, None] * S + np.arange(S)[None, :]).ravel()
    cols = (f.start + keep[:, None] * S + np.arange(S)[None, :]).ravel()
    keys = sl.keys([(sc.service_names[s], sc.population_names[u])
                    for s, u in zip(sc.demand_service, sc.demand_population)])
    add_family(form, "demand", keys, rows, cols, np.ones(len(rows)), lower=demand.ravel(), upper=demand.ravel())


def add_replica_capacity(form, sc: ServingCandidates, sl: Slices, n, f):
    load_per_rps = (1.0 + sc.headroom[sc.service[sc.route_option]]) / sc.route_capacity_rps
    S = sl.n
    slot = np.arange(S)[None, :]
    rows = np.concatenate([(sc.route_option[:, None] * S + slot).ravel(), np.arange(len(sc) * S)])
    cols = np.concatenate([f.cols, n.cols])
    vals = np.concatenate([np.repeat(load_per_rps, S), -np.ones(len(sc) * S)])
    add_family(form, "replica_capacity", n.keys, rows, cols, vals, upper=0.0)


def _stock_rows(inst: Instance, pairs: list[tuple], use: Usage, spot: bool) -> tuple[np.ndarray, np.ndarray]:
    """(base row of each usage entry in `pairs`, entries kept): the columns of one class on those stocks."""
    names = list(inst.regions)
    row_of = {p: i for i, p in enumerate(pairs)}
    base = np.array([row_of.get((names[r], a), -1) for r, a in zip(use.region, use.accel)], dtype=np.int64)
    return base, np.flatnonzero((base >= 0) & (use.spot == spot))


def add_inventory(form, inst: Instance, sl: Slices, use: Usage, reserved: VarBlock | None):
    """GPUs held on-demand within the on-demand count: every GPU of an on-demand column less the reserved GPUs
    in use there (reserved[r,a], none without a `reserved` block); spot GPUs have their own stock (spot_stock)."""
    pairs = [(r, a) for r, reg in inst.regions.items() for a in reg.gpus]
    # edge devices are not GPU stock: their participation limit is applied when candidates are enumerated
    base, keep = _stock_rows(inst, pairs, use, spot=False)
    rows, entry = over_slices(base[keep], use.slice[keep], sl.n)
    cols, vals = use.cols[keep][entry], use.gpus[keep][entry]
    if reserved is not None:
        row_of = {p: i for i, p in enumerate(pairs)}
        mine = np.array([row_of[tuple(k[:2])] * sl.n + (sl.labels.index(k[2]) if sl.n > 1 else 0)
                         for k in reserved.keys], dtype=np.int64)
        rows, cols = np.concatenate([rows, mine]), np.concatenate([cols, reserved.cols])
        vals = np.concatenate([vals, -np.ones(len(mine))])
    add_family(form, "inventory", sl.keys(pairs), rows, cols, vals,
               upper=np.repeat([inst.regions[r].gpus[a].count for r, a in pairs], sl.n))


def reserved_pairs(inst: Instance) -> list[tuple[str, str]]:
    return [(r, a) for r, reg in inst.regions.items() for a, g in reg.gpus.items()
            if g.reserved is not None and g.reserved.count > 0]


def add_reserved(form, inst: Instance, sl: Slices, w_usd: float) -> VarBlock | None:
    """reserved[r,a] (per slice): GPUs of the reserved stock in use. Each earns back the on-demand rental it
    replaces (cost -price x hours of the slice): free at the margin, so reserved GPUs are used before on-demand
    ones. The commitment (count x reserved price x horizon) is paid whatever the plan: the objective's constant.
    Source: reserved capacity is billed per hour of the term, used or not (AWS EC2 Reserved Instances pricing)."""
    pairs = reserved_pairs(inst)
    if not pairs:
        return None
    regions = inst.regions
    hours = np.asarray(sl.timeline.weights, dtype=float)   # one slice: the horizon
    price = np.array([regions[r].gpus[a].usd_per_hour for r, a in pairs])
    form.objective_offset = w_usd * sum(regions[r].gpus[a].reserved.count * regions[r].gpus[a].reserved.usd_per_hour
                                        for r, a in pairs) * inst.horizon_hours
    return form.add_vars("reserved", sl.keys(pairs), lb=0.0, cost=-w_usd * np.outer(price, hours).ravel())


def add_procurement(form, inst: Instance, sl: Slices, use: Usage, reserved: VarBlock | None):
    """Spot and reserved stock (only where a region's accelerator has the block; none in a version 1 file).
      spot_stock[r,a]      sum over spot columns of GPUs <= spot count
      reserved_stock[r,a]  reserved[r,a] <= reserved count
      reserved_use[r,a]    reserved[r,a] - sum over on-demand columns of billed GPUs <= 0
    Billed GPUs: GPUs x the hours the column is charged / the slice's hours (a static job shorter than the
    horizon holds its GPUs for the horizon but is billed, and covered by reserved GPUs, for its wall hours)."""
    regions = inst.regions
    spot_pairs = [(r, a) for r, reg in regions.items() for a, g in reg.gpus.items() if g.spot is not None]
    if spot_pairs:
        base, keep = _stock_rows(inst, spot_pairs, use, spot=True)
        rows, entry = over_slices(base[keep], use.slice[keep], sl.n)
        add_family(form, "spot_stock", sl.keys(spot_pairs), rows, use.cols[keep][entry], use.gpus[keep][entry],
                   upper=np.repeat([regions[r].gpus[a].spot.count for r, a in spot_pairs], sl.n))
    if reserved is None:
        return
    pairs = reserved_pairs(inst)
    k = len(reserved.cols)
    add_family(form, "reserved_stock", reserved.keys, np.arange(k), reserved.cols, np.ones(k),
               upper=np.repeat([regions[r].gpus[a].reserved.count for r, a in pairs], sl.n))
    base, keep = _stock_rows(inst, pairs, use, spot=False)
    rows, entry = over_slices(base[keep], use.slice[keep], sl.n)
    add_family(form, "reserved_use", reserved.keys, np.concatenate([rows, np.arange(k)]),
               np.concatenate([use.cols[keep][entry], reserved.cols]),
               np.concatenate([-use.billed[keep][entry], np.ones(k)]), upper=0.0)


def add_power_cap(form, inst: Instance, sl: Slices, use: Usage):
    names = list(inst.regions)
    capped = [i for i, cap in enumerate(sl.power_cap) if cap is not None]
    row_of = {r: i for i, r in enumerate(capped)}
    base = np.array([row_of.get(int(r), -1) for r in use.region], dtype=np.int64)
    keep = np.flatnonzero(base >= 0)
    rows, entry = over_slices(base[keep], use.slice[keep], sl.n)
    add_family(form, "power_cap", sl.keys([(names[r],) for r in capped]), rows, use.cols[keep][entry],
               use.mw[keep][entry],
               upper=np.concatenate([sl.power_cap[r] for r in capped]) if capped else np.zeros(0))


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


def set_reserved(form, x: np.ndarray) -> None:
    """Fill the `reserved` columns of `x` from its GPU-holding columns (reserved GPUs in use = min(reserved count,
    GPUs billed on-demand there)): what the solver would put there, for a plan read back from its JSON."""
    if "reserved" not in form.blocks:
        return
    cols = form.blocks["reserved"].cols
    x[cols] = 0.0
    use = form.families["reserved_use"]
    billed = -(form.matrix()[use.start:use.start + use.size] @ x)
    x[cols] = np.minimum(form.families["reserved_stock"].upper, np.maximum(billed, 0.0))
