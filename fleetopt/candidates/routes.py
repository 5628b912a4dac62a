"""Serving routes: which replica options each population may use (residency, the p99 SLO after RTT), why a
population has none, and the exact dominance pruning of options by their routes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from fleetopt.candidates.tables import ServingCandidates
from fleetopt.io.schema import Instance
from fleetopt.physics import queueing
from fleetopt.physics.queueing import OUTPUT_LENGTH_CV
from fleetopt.physics.serving import REQUEST_OVERHEAD_S

# The continuous-batching fields of an option (candidates/serving.py's table), as route_capacity_rps names them.
BATCHING_FIELDS = {"llm": "llm", "slots": "slots", "prefill_s": "engine_prefill_s", "step_s": "step_s",
                   "step_full_s": "step_full_s", "output_tokens": "output_tokens", "chunks": "chunks",
                   "saturation_rps": "shard_rate_rps"}

SLO_QUANTILE = 0.99
DOMINANCE_CHUNK = 2_000_000   # option-pair x population comparisons held at once by route_dominance_mask


def routes_for(inst, opt, population_names, fastest_s, fastest_accel):
    """Routes (option, population) that meet residency and the p99 SLO; demand pairs; unroutable pairs.

    The capacities of every pair's candidate routes come from one vectorized call (route_capacity_rps solves
    for each by bisection; per pair the call overhead would dominate on large fleets).
    """
    demand = defaultdict(list)
    unroutable: list = []   # (service, population, why), or a pair's index until its routes are known
    pairs = []   # (service index, name, population index, name, allowed regions, rtt by region, candidate options)
    datacenter = np.array([reg.kind == "datacenter" for reg in inst.regions.values()])
    jurisdiction = np.array([reg.jurisdiction for reg in inst.regions.values()])
    for s, (sname, svc) in enumerate(inst.serving.items()):
        mine = np.flatnonzero(opt["service"] == s)
        for pname, rps in svc.demand_rps.items():
            if rps <= 0:
                continue
            if pname not in inst.populations:
                unroutable.append((sname, pname, f"population '{pname}' is not defined"))
                continue
            u = population_names.index(pname)
            demand["service"].append(s)
            demand["population"].append(u)
            demand["rps"].append(rps)
            pop = inst.populations[pname]
            rtt_by_region = np.array([pop.rtt_ms.get(r, np.nan) for r in inst.regions], dtype=float)
            allowed = datacenter & ~np.isnan(rtt_by_region)
            if pop.allowed_jurisdictions is not None:
                allowed &= np.isin(jurisdiction, pop.allowed_jurisdictions)
            rtt = rtt_by_region[opt["region"][mine]]
            budget = queueing.latency_budget_s(svc.slo_p99_ms, np.nan_to_num(rtt), opt["prefill_s"][mine],
                                               opt["decode_s"][mine])
            unroutable.append(len(pairs))   # replaced below when the pair has no route (keeps the order)
            candidates = mine[allowed[opt["region"][mine]] & (budget > 0)]
            pairs.append((s, sname, u, pname, allowed, rtt_by_region, candidates))
    candidate = np.concatenate([p[-1] for p in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    rtt = np.concatenate([p[5][opt["region"][p[-1]]] for p in pairs]) if pairs else np.zeros(0)
    slo_ms = np.repeat(np.array([inst.serving[p[1]].slo_p99_ms for p in pairs], dtype=float),
                       [len(p[-1]) for p in pairs])
    capacity = queueing.route_capacity_rps(
        (slo_ms - rtt) / 1e3, opt["prefill_s"][candidate], opt["decode_s"][candidate],
        opt["shard_rate_rps"][candidate], opt["fanout"][candidate], opt["group_scale"][candidate],
        {name: opt[field][candidate] for name, field in BATCHING_FIELDS.items()},
        REQUEST_OVERHEAD_S, OUTPUT_LENGTH_CV, SLO_QUANTILE) if len(candidate) else np.zeros(0)
    ok = capacity > 0
    pair_of = np.repeat(np.arange(len(pairs)), [len(p[-1]) for p in pairs])
    routed = np.zeros(len(pairs), dtype=bool)
    routed[pair_of[ok]] = True
    for i, entry in enumerate(unroutable):
        if isinstance(entry, int) and not routed[entry]:
            s, sname, _, pname, allowed, rtt_by_region, _ = pairs[entry]
            unroutable[i] = (sname, pname, unroutable_reason(inst, sname, pname, allowed, rtt_by_region,
                                                             fastest_s[s], fastest_accel[s]))
    unroutable = [entry for entry in unroutable if not isinstance(entry, int)]
    out = {"option": candidate[ok].astype(np.int64),
           "population": np.array([p[2] for p in pairs], dtype=np.int64)[pair_of[ok]],
           "capacity": capacity[ok], "rtt": rtt[ok]}
    demand_arrays = {"service": np.array(demand["service"], dtype=np.int64),
                     "population": np.array(demand["population"], dtype=np.int64),
                     "rps": np.array(demand["rps"], dtype=float)}
    return out, demand_arrays, unroutable


def unroutable_reason(inst: Instance, sname: str, pname: str, allowed, rtt_by_region, fastest_s,
                      fastest_accel) -> str:
    """Why a (service, population) pair has no route, in a planner's words.

    `fastest_s[r]` is the least service time plus zero-load p99 queueing of the service in region r (inf when
    nothing fits there, fastest_accel -1 when nothing is stocked): a route exists only where RTT + it < SLO.
    """
    svc, pop = inst.serving[sname], inst.populations[pname]
    region_names, accel_names = list(inst.regions), list(inst.accelerators)
    where = (f"its allowed jurisdictions ({', '.join(pop.allowed_jurisdictions)})"
             if pop.allowed_jurisdictions is not None else "its rtt_ms")
    if not (fastest_accel >= 0).any():
        only = f" (allowed: {', '.join(svc.allowed_accelerators)})" if svc.allowed_accelerators else ""
        return f"no datacenter region stocks an accelerator the service may use{only}"
    if not np.isfinite(fastest_s).any():
        return (f"no accelerator fits the model '{svc.model}': its weights and one request's KV cache exceed "
                "the HBM of a node on every stocked accelerator it may use")
    if not allowed.any():
        return f"no datacenter region in {where} has an RTT from it"
    total_ms = np.where(allowed, np.nan_to_num(rtt_by_region) + fastest_s * 1e3, np.inf)
    if not np.isfinite(total_ms).any():
        names = ", ".join(r for r, ok in zip(region_names, allowed) if ok)
        return f"no region in {where} ({names}) stocks an accelerator that fits the model '{svc.model}'"
    r = int(np.argmin(total_ms))
    return (f"every region's RTT + service time exceeds the SLO of {svc.slo_p99_ms:g} ms (best: "
            f"{total_ms[r]:.0f} ms, {region_names[r]} on {accel_names[fastest_accel[r]]})")


def route_dominance_mask(sc: ServingCandidates) -> np.ndarray:
    """True for options worth offering: some route exists, and no option of the same (service, region,
    accelerator) has no more GPUs per replica and at least the capacity on every population's route.

    Exact: within one region and accelerator cost, power and carbon scale with GPUs, so swapping each replica of a
    dominated option for one of its dominator is feasible and no worse.
    """
    n, p = len(sc), len(sc.population_names)
    cap = np.zeros((n, p))
    cap[sc.route_option, sc.route_population] = sc.route_capacity_rps
    keep = cap.any(axis=1)
    group = ((sc.service * len(sc.region_names) + sc.region) * len(sc.accel_names) + sc.accel) * 2 + sc.procurement
    routed = np.flatnonzero(keep)
    order = routed[np.argsort(group[routed], kind="stable")]   # each group's routed options together, in table order
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]]) if len(order) else order
    sizes = np.diff(np.r_[starts, len(order)])
    for k in np.unique(sizes[sizes >= 2]):
        firsts = starts[sizes == k]
        # groups of k options compared all at once, in chunks that bound memory ([groups, k, k, populations])
        for chunk in np.array_split(firsts, max(1, len(firsts) * k * k * p // DOMINANCE_CHUNK)):
            idx = order[chunk[:, None] + np.arange(k)]
            gpus, c = sc.gpus_per_replica[idx].astype(float), cap[idx]
            as_good = ((gpus[:, :, None] <= gpus[:, None, :])
                       & np.all(c[:, :, None, :] >= c[:, None, :, :], axis=3))
            better = (gpus[:, :, None] < gpus[:, None, :]) | np.any(c[:, :, None, :] > c[:, None, :, :], axis=3)
            twin = as_good & ~better & np.triu(np.ones((k, k), dtype=bool), 1)   # of identical options keep the first
            keep[idx[(as_good & better | twin).any(axis=1)]] = False
    return keep


def take_options(sc: ServingCandidates, keep: np.ndarray) -> ServingCandidates:
    """The table restricted to the kept options, their routes renumbered."""
    new_index = np.cumsum(keep) - 1
    route_keep = keep[sc.route_option]
    per_option = ("service", "region", "accel", "tp", "precision", "batch", "gpus_per_replica",
                  "power_mw_per_replica", "energy_kwh_per_replica", "carbon_t_per_replica",
                  "cost_usd_per_replica", "service_rate_rps", "prefill_s", "decode_s", "procurement")
    per_route = ("route_population", "route_capacity_rps", "route_rtt_ms")
    changes = {k: getattr(sc, k)[keep] for k in per_option}
    changes |= {k: getattr(sc, k)[route_keep] for k in per_route}
    changes["route_option"] = new_index[sc.route_option[route_keep]]
    return replace(sc, **changes)
