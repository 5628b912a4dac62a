"""Fairness-monitoring requirements: for each monitored (service, population, region) that has a route, the
samples each protected group needs per window and the evaluator GPUs that must run in that region.

Samples never leave the region that served the traffic (they carry user data), so every region that serves a
monitored population needs its own evaluators and its own pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.candidates.tables import ServingCandidates
from fleetopt.io.schema import Instance
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.fairness import evaluator_gpus, samples_to_detect_gap


@dataclass
class MonitoringTable:
    # one entry per monitored (service, population, region) with at least one route
    service: np.ndarray          # index into sc.service_names
    population: np.ndarray       # index into sc.population_names
    region: np.ndarray           # index into sc.region_names
    evaluator_gpus: np.ndarray   # GPUs needed to evaluate every group's samples each window
    # one entry per (triple, group): the group's traffic must supply its samples within a window
    group_triple: np.ndarray     # index into the triples above
    group_names: list[str]
    group_share: np.ndarray
    group_samples: np.ndarray    # samples per window
    window_s: np.ndarray         # per group entry
    # one entry per (service, region) pair that may run a pipeline
    pipe_service: np.ndarray
    pipe_region: np.ndarray
    pipe_usd: np.ndarray         # pipeline cost over the horizon
    triple_pipe: np.ndarray      # per triple: index of its (service, region) pipeline
    # evaluators run on the region's cheapest stocked accelerator
    evaluator_accel: np.ndarray  # per pipeline: index into sc.accel_names
    evaluator_usd_per_gpu: np.ndarray
    evaluator_mw_per_gpu: np.ndarray
    evaluator_t_per_gpu: np.ndarray

    def __len__(self) -> int:
        return int(self.service.shape[0])


def monitoring_requirements(inst: Instance, sc: ServingCandidates) -> MonitoringTable:
    svc_idx = sc.service[sc.route_option]
    reg_idx = sc.region[sc.route_option]
    routed = {(int(s), int(u), int(r)) for s, u, r in zip(svc_idx, sc.route_population, reg_idx)}
    triples, groups, pipes = [], [], {}
    for s, sname in enumerate(sc.service_names):
        mon = inst.serving[sname].monitoring
        if mon is None:
            continue
        window_s = mon.window_hours * 3600.0
        for u, pname in enumerate(sc.population_names):
            pop = inst.populations[pname]
            if not pop.groups:
                continue
            names = list(pop.groups)
            shares = np.array([pop.groups[g] for g in names])
            samples = samples_to_detect_gap(mon.min_detectable_gap, mon.confidence) * np.ones(len(names))
            need = float(np.sum(evaluator_gpus(samples, mon.evaluator_gpu_s_per_sample, mon.window_hours)))
            for r in range(len(sc.region_names)):
                if (s, u, r) not in routed:
                    continue
                pipe = pipes.setdefault((s, r), len(pipes))
                t = len(triples)
                triples.append((s, u, r, need, pipe))
                groups += [(t, f"{pname}/{g}", share, n, window_s) for g, share, n in zip(names, shares, samples)]
    pipe_keys = sorted(pipes, key=pipes.get)
    hours = inst.horizon_hours
    accel, usd, mw, tons = [], [], [], []
    for _, r in pipe_keys:
        region = inst.regions[sc.region_names[r]]
        stocked = [(g.usd_per_hour, a) for a, g in region.gpus.items() if g.count > 0]
        price, aname = min(stocked)
        acc = inst.accelerators[aname]
        stock = region.gpus[aname]
        one_gpu = horizon_charges(
            1, hours, tdp_w=acc.tdp_w, pue=region.pue, carbon_g_per_kwh=region.mean_carbon_g_per_kwh,
            usd_per_gpu_hour=price, energy_usd_per_kwh=region.energy_usd_per_kwh,
            price_includes_energy=stock.includes_energy, include_embodied=inst.policy.include_embodied,
            embodied_kgco2e=acc.embodied_kgco2e, lifetime_hours=acc.lifetime_hours)
        accel.append(sc.accel_names.index(aname))
        usd.append(float(one_gpu["cost_usd"]))
        mw.append(float(one_gpu["power_w"]) / 1e6)
        tons.append(float(one_gpu["carbon_t"]))
    mon_usd = [inst.serving[sc.service_names[s]].monitoring.pipeline_usd_per_hour * hours for s, _ in pipe_keys]
    def col(i, kind=float):
        return np.array([t[i] for t in triples], dtype=kind)

    def gcol(i, kind=float):
        return np.array([g[i] for g in groups], dtype=kind)

    return MonitoringTable(
        service=col(0, int), population=col(1, int), region=col(2, int), evaluator_gpus=col(3),
        group_triple=gcol(0, int), group_names=[g[1] for g in groups], group_share=gcol(2), group_samples=gcol(3),
        window_s=gcol(4), pipe_service=np.array([s for s, _ in pipe_keys], dtype=int),
        pipe_region=np.array([r for _, r in pipe_keys], dtype=int), pipe_usd=np.array(mon_usd, dtype=float),
        triple_pipe=col(4, int), evaluator_accel=np.array(accel, dtype=int),
        evaluator_usd_per_gpu=np.array(usd, dtype=float), evaluator_mw_per_gpu=np.array(mw, dtype=float),
        evaluator_t_per_gpu=np.array(tons, dtype=float))
