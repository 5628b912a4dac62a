"""Fairness-monitoring families (fleet-stack layer: Governance, responsibility).

  monitored[s,u,r] binary: population u's traffic for service s is served (and so sampled) in region r
  pipeline[s,r]    binary: a monitoring pipeline runs for s in r (fixed cost per hour)
  evaluators[s,r]  continuous: evaluator GPUs in r (samples never leave the region that served them); evaluation
                is batch work billed by the GPU-hour, so a fraction of a GPU is a real purchase

  monitoring_traffic[s,u,r]    sum_o f[o,u] <= D[s,u] monitored[s,u,r]
  monitoring_samples[s,u,r,g]  share_g x window x sum_o f[o,u] >= n_g monitored[s,u,r]
  monitoring_pipeline[s,u,r]   monitored[s,u,r] <= pipeline[s,r]
  monitoring_coverage[s,r]     sum_u GPUs_needed[s,u] monitored[s,u,r] <= evaluators[s,r]
Over time slices, traffic and samples hold in every slice (flows and demand per slice; a trailing slice in the
key): monitored traffic in its quietest slice still supplies each group's samples every window, which is valid
(every window then has them) and conservative. Monitored, pipelines and evaluators are decided once for the
horizon (a pipeline is not switched off by the hour).
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.monitoring import MonitoringTable
from fleetopt.candidates.tables import ServingCandidates, pair_index
from fleetopt.facts import add_family
from fleetopt.formulation.time import Slices


def add_monitoring_vars(form, sc: ServingCandidates, mon: MonitoringTable, w_usd: float, w_t: float,
                        evaluator_usd: np.ndarray, evaluator_t: np.ndarray):
    keys = [(sc.service_names[s], sc.population_names[u], sc.region_names[r])
            for s, u, r in zip(mon.service, mon.population, mon.region)]
    z = form.add_vars("monitored", keys, lb=0, ub=1, integer=True)
    pipes = [(sc.service_names[s], sc.region_names[r]) for s, r in zip(mon.pipe_service, mon.pipe_region)]
    y = form.add_vars("pipeline", pipes, lb=0, ub=1, integer=True, cost=w_usd * mon.pipe_usd)
    m = form.add_vars("evaluators", [p + (sc.accel_names[a],) for p, a in zip(pipes, mon.evaluator_accel)],
                   lb=0, cost=w_usd * evaluator_usd + w_t * evaluator_t)
    return z, y, m


def _routes_of_triples(sc: ServingCandidates, mon: MonitoringTable):
    """(triple index, route index) pairs: the flows that serve each monitored triple."""
    width = len(sc.population_names)
    svc, reg = sc.service[sc.route_option], sc.region[sc.route_option]
    triple = pair_index(np.asarray(mon.service, dtype=np.int64) * width + mon.population, mon.region,
                        svc * width + sc.route_population, reg)
    routes = np.flatnonzero(triple >= 0)
    return triple[routes], routes


def _triple_demand(sc: ServingCandidates, mon: MonitoringTable, demand: np.ndarray) -> np.ndarray:
    """[triples, S] demand of each monitored triple's (service, population) per slice."""
    pairs = {(int(s), int(u)): i for i, (s, u) in enumerate(zip(sc.demand_service, sc.demand_population))}
    out = np.zeros((len(mon), demand.shape[1]))
    for t, (s, u) in enumerate(zip(mon.service, mon.population)):
        if (int(s), int(u)) in pairs:
            out[t] = demand[pairs[(int(s), int(u))]]
    return out


def add_monitoring_families(form, sc: ServingCandidates, mon: MonitoringTable, sl: Slices, demand: np.ndarray,
                            f, z, y, m):
    keys = z.keys
    n, S = len(mon), sl.n
    t_of_route, routes = _routes_of_triples(sc, mon)
    slot = np.arange(S)[None, :]
    d = sc.demand_of(mon.service, mon.population)[:, None] if S == 1 else _triple_demand(sc, mon, demand)
    flow_cols = (f.start + routes[:, None] * S + slot).ravel()
    add_family(form, "monitoring_traffic", sl.keys(keys),
               np.concatenate([(t_of_route[:, None] * S + slot).ravel(), np.arange(n * S)]),
               np.concatenate([flow_cols, np.repeat(z.cols, S)]),
               np.concatenate([np.ones(len(routes) * S), -d.ravel()]), upper=0.0)

    # samples: one row per (triple, group, slice); the flows of the triple feed every one of its groups. Each
    # group's nonzeros are its flows (slice-major) then its monitored column, groups in order, built as arrays
    by_triple = np.argsort(t_of_route, kind="stable")
    first = np.searchsorted(t_of_route[by_triple], np.arange(n))
    count = np.diff(np.r_[first, len(by_triple)])
    G = len(mon.group_triple)
    n_flows = count[mon.group_triple] * S
    block = n_flows + S
    block_start = np.cumsum(block) - block
    group_of = np.repeat(np.arange(G), n_flows)
    e = np.arange(int(n_flows.sum())) - np.repeat(np.cumsum(n_flows) - n_flows, n_flows)
    per = np.maximum(count[mon.group_triple], 1)[group_of]
    k, j = e // per, e % per
    route = routes[by_triple[first[mon.group_triple][group_of] + j]]
    total = int(block.sum())
    g_rows, g_cols, g_vals = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.int64), np.zeros(total)
    at = np.repeat(block_start, n_flows) + e
    g_rows[at] = group_of * S + k
    g_cols[at] = f.start + route * S + k
    g_vals[at] = (-mon.group_share * mon.window_s)[group_of]
    z_at = (block_start + n_flows)[:, None] + np.arange(S)
    g_rows[z_at] = np.arange(G)[:, None] * S + np.arange(S)
    g_cols[z_at] = np.asarray(z.cols)[mon.group_triple][:, None]
    g_vals[z_at] = np.asarray(mon.group_samples, dtype=float)[:, None]
    group_keys = [keys[t] + (g,) for t, g in zip(mon.group_triple, mon.group_names)]
    add_family(form, "monitoring_samples", sl.keys(group_keys), g_rows, g_cols, g_vals, upper=0.0)
    add_family(form, "monitoring_pipeline", keys, np.concatenate([np.arange(n), np.arange(n)]),
               np.concatenate([z.cols, y.cols[mon.triple_pipe]]), np.concatenate([np.ones(n), -np.ones(n)]),
               upper=0.0)
    p = len(mon.pipe_service)
    add_family(form, "monitoring_coverage", y.keys, np.concatenate([mon.triple_pipe, np.arange(p)]),
               np.concatenate([z.cols, m.cols]), np.concatenate([mon.evaluator_gpus, -np.ones(p)]),
               upper=0.0)
