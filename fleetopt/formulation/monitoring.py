"""Fairness-monitoring families (fleet-stack layer: Governance, responsibility).

  monitored[s,u,r] binary: population u's traffic for service s is served (and so sampled) in region r
  pipeline[s,r]    binary: a monitoring pipeline runs for s in r (fixed cost per hour)
  evaluators[s,r]  continuous: evaluator GPUs in r (samples never leave the region that served them); evaluation
                is batch work billed by the GPU-hour, so a fraction of a GPU is a real purchase

  monitoring_traffic[s,u,r]    sum_o f[o,u] <= D[s,u] monitored[s,u,r]
  monitoring_samples[s,u,r,g]  share_g x window x sum_o f[o,u] >= n_g monitored[s,u,r]
  monitoring_pipeline[s,u,r]   monitored[s,u,r] <= pipeline[s,r]
  monitoring_coverage[s,r]     sum_u GPUs_needed[s,u] monitored[s,u,r] <= evaluators[s,r]
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.monitoring import MonitoringTable
from fleetopt.candidates.tables import ServingCandidates
from fleetopt.facts import add_family


def add_monitoring_vars(form, sc: ServingCandidates, mon: MonitoringTable, w_usd: float, w_t: float):
    keys = [(sc.service_names[s], sc.population_names[u], sc.region_names[r])
            for s, u, r in zip(mon.service, mon.population, mon.region)]
    z = form.add_vars("monitored", keys, lb=0, ub=1, integer=True)
    pipes = [(sc.service_names[s], sc.region_names[r]) for s, r in zip(mon.pipe_service, mon.pipe_region)]
    y = form.add_vars("pipeline", pipes, lb=0, ub=1, integer=True, cost=w_usd * mon.pipe_usd)
    m = form.add_vars("evaluators", [p + (sc.accel_names[a],) for p, a in zip(pipes, mon.evaluator_accel)],
                   lb=0, cost=w_usd * mon.evaluator_usd_per_gpu + w_t * mon.evaluator_t_per_gpu)
    return z, y, m


def _routes_of_triples(sc: ServingCandidates, mon: MonitoringTable):
    """(triple index, route index) pairs: the flows that serve each monitored triple."""
    index = {(int(s), int(u), int(r)): t for t, (s, u, r) in enumerate(zip(mon.service, mon.population, mon.region))}
    svc, reg = sc.service[sc.route_option], sc.region[sc.route_option]
    triple = np.array([index.get((int(s), int(u), int(r)), -1) for s, u, r in zip(svc, sc.route_population, reg)],
                   dtype=np.int64)
    routes = np.flatnonzero(triple >= 0)
    return triple[routes], routes


def add_monitoring_families(form, sc: ServingCandidates, mon: MonitoringTable, f, z, y, m):
    keys = z.keys
    n = len(mon)
    t_of_route, routes = _routes_of_triples(sc, mon)
    d = sc.demand_of(mon.service, mon.population)
    add_family(form, "monitoring_traffic", keys, np.concatenate([t_of_route, np.arange(n)]),
               np.concatenate([f.cols[routes], z.cols]), np.concatenate([np.ones(len(routes)), -d]),
               upper=0.0)

    # samples: one row per (triple, group); the flows of the triple feed every one of its groups
    g_rows, g_cols, g_vals = [], [], []
    for gi, t in enumerate(mon.group_triple):
        mine = routes[t_of_route == t]
        g_rows += [np.full(len(mine), gi), [gi]]
        g_cols += [f.cols[mine], [z.cols[t]]]
        g_vals += [np.full(len(mine), -mon.group_share[gi] * mon.window_s[gi]), [mon.group_samples[gi]]]
    group_keys = [keys[t] + (g,) for t, g in zip(mon.group_triple, mon.group_names)]
    add_family(form, "monitoring_samples", group_keys, np.concatenate(g_rows) if g_rows else [],
               np.concatenate(g_cols) if g_cols else [], np.concatenate(g_vals) if g_vals else [],
               upper=0.0)
    add_family(form, "monitoring_pipeline", keys, np.concatenate([np.arange(n), np.arange(n)]),
               np.concatenate([z.cols, y.cols[mon.triple_pipe]]), np.concatenate([np.ones(n), -np.ones(n)]),
               upper=0.0)
    p = len(mon.pipe_service)
    add_family(form, "monitoring_coverage", y.keys, np.concatenate([mon.triple_pipe, np.arange(p)]),
               np.concatenate([z.cols, m.cols]), np.concatenate([mon.evaluator_gpus, -np.ones(p)]),
               upper=0.0)
