"""Plans over time slices re-checked slice by slice (families run_window, run_steady, run_resume, coverage,
demand, replica_capacity, route_needs_replica, monitoring_samples, reported; inventory and power_cap per slice
in resources.py).

Modelling rules re-derived here from the instance's timeline (io/timeline.py), not from the formulation:
- slice s stands for w_s horizon hours; a job's window is [earliest_start_hour, min(deadline, horizon)], and
  the hours of s inside it bound the hours the job runs in s (hours_by_slice);
- a job that cannot pause runs the same share h_s / window_s of every slice in its window;
- a pausable job resumes where its share of the slice f_s = h_s / w_s rises over the slice before it in its
  representative day (cyclic): resumes = sum_s days_s x max(0, f_s - f_prev(s)), each costing
  checkpoint_restart_min; the hours run less the restarts cover min(wall hours, window hours);
- GPUs and MW in a slice are the average over the hours it stands for: GPUs x h_s / w_s for a job, replicas in
  the slice for a service, evaluators in every slice;
- charges per slice: physics.economics.horizon_charges for the hours held in the slice at the slice's intensity
  and energy price (the profile, else the region's constant).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from fleetopt.io.schema import Instance
from fleetopt.physics.economics import horizon_charges
from fleetopt.physics.fairness import samples_to_detect_gap
from fleetopt.plan import Plan
from fleetopt.verify.draw import Draw
from fleetopt.verify.report import ABS_TOL, REL_TOL, Report
from fleetopt.verify.serving import _check_route, _settle_routes, check_config_name, replica_lookup


class SliceView:
    """The instance's slices as the verifier reads them."""

    def __init__(self, inst: Instance):
        tl = inst.timeline
        self.timeline = tl
        self.n = len(tl)
        self.weights = np.asarray(tl.weights, dtype=float)
        labels = [f"d{int(d)}h{float(h) % 24:g}" for d, h in zip(tl.day, tl.start_hour)]
        self.labels = labels if len(set(labels)) == len(labels) else [f"{x}s{i}" for i, x in enumerate(labels)]
        self.prev = np.arange(self.n)
        for d in np.unique(tl.day):
            mine = np.flatnonzero(tl.day == d)
            order = mine[np.argsort(np.asarray(tl.start_hour, dtype=float)[mine] % 24, kind="stable")]
            self.prev[order] = np.roll(order, 1)
        self.days = np.array([len(np.unique(np.floor(np.asarray(m) * tl.step_hours / 24.0))) for m in tl.members],
                             dtype=float)

    def value(self, path: str, default: float) -> np.ndarray:
        return self.timeline.value(path, default)

    def charges(self, inst: Instance, rname: str, aname: str, gpus: float, hours: np.ndarray,
                other_usd: float = 0.0, spot: bool = False) -> tuple[float, float, float]:
        """(kWh, t CO2e, USD) of `gpus` accelerators held hours[s] in each slice, at the slice's intensity and
        energy price. Source: physics/economics.horizon_charges, once per slice."""
        region, acc = inst.regions[rname], inst.accelerators[aname]
        stock = region.gpus.get(aname)
        c = horizon_charges(
            gpus, np.asarray(hours, dtype=float), tdp_w=acc.tdp_w, pue=region.pue,
            carbon_g_per_kwh=self.value(f"regions.{rname}.carbon_g_per_kwh", region.mean_carbon_g_per_kwh),
            usd_per_gpu_hour=(stock.spot.usd_per_hour if spot and stock.spot else stock.usd_per_hour) if stock else 0.0,
            energy_usd_per_kwh=self.value(f"regions.{rname}.energy_usd_per_kwh", region.energy_usd_per_kwh),
            price_includes_energy=stock is None or stock.includes_energy,
            include_embodied=inst.policy.include_embodied, embodied_kgco2e=acc.embodied_kgco2e,
            lifetime_hours=acc.lifetime_hours)
        return float(np.sum(c["energy_kwh"])), float(np.sum(c["carbon_t"])), float(np.sum(c["cost_usd"])) + other_usd


def _schedule(report: Report, key, values, n: int, what: str) -> np.ndarray | None:
    """A per-slice list the plan states, as an array; None (and a violation) when it is missing or malformed."""
    report.check("config")
    if values is None or len(values) != n:
        report.add("config", key, 1, "decisions", f"{what}: a plan over {n} time slices states one value per slice")
        return None
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        report.add("config", key, 1, "decisions", f"{what}: values must be finite and >= 0")
        return None
    return arr


def training_over_slices(inst: Instance, sv: SliceView, name: str, dec, wall_h: float,
                         report: Report) -> np.ndarray | None:
    """Window, steadiness, resumes and coverage of one job; the hours it runs in each slice, or None when its
    schedule is malformed."""
    job = inst.training[name]
    hours = _schedule(report, ("training", name), dec.hours_by_slice, sv.n, "hours_by_slice")
    if hours is None:
        return None
    window = sv.timeline.hours_in_window(job.earliest_start_hour, min(job.deadline_hours, inst.horizon_hours))
    for s, label in enumerate(sv.labels):
        report.upper("run_window", (name, label), hours[s], window[s], "hours",
                     "the job runs outside its window [earliest_start_hour, deadline]")
    share = hours / sv.weights
    if not job.pausable:
        inside = np.flatnonzero(window > 0)
        level = hours[inside] / window[inside]
        for s, lv in zip(inside, level):
            report.check("run_steady")
            if len(level) and abs(lv - level[0]) > ABS_TOL + REL_TOL * abs(level[0]) + 1e-6:
                report.add("run_steady", (name, sv.labels[s]), abs(lv - level[0]), "share of the window",
                           "a job that cannot pause runs the same share of every slice in its window")
    # the fewest resumes the shares allow (where a share rises over the slice before), each a restart
    resumes = float(np.sum(sv.days * np.maximum(share - share[sv.prev], 0.0))) if job.pausable else 0.0
    if job.pausable:
        report.check("run_resume", sv.n)
    restart_h = job.checkpoint_restart_min / 60.0 * resumes
    required = min(wall_h, float(window.sum()))
    report.check("coverage")
    covered = float(hours.sum()) - restart_h
    if required - covered > 1e-6 * max(1.0, required) + 1e-4:
        report.add("coverage", (name,), required - covered, "hours",
                   f"{covered:.6g} hours run (after {restart_h:.3g} h of restarts) do not cover "
                   f"{required:.6g} hours of work inside the horizon")
    return hours


def verify_serving_over_slices(inst: Instance, plan: Plan, sv: SliceView, report: Report) -> tuple[list[Draw], dict]:
    """Replicas, routes, demand and replica capacity in every slice. Returns the replica draws and the routed
    requests/s per (service, population, region) in the quietest slice (what monitoring's samples rest on)."""
    draws: list[Draw] = []
    physics = replica_lookup(inst, report)
    n = sv.n

    replicas: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(n))
    load: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(n))
    routed: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for sname, dec in plan.serving.items():
        report.check("config")
        if sname not in inst.serving:
            report.add("config", (sname,), 1, "decisions", "the plan serves a service the instance does not have")
            continue
        for group in dec.replicas:
            key = (sname, group.region, group.accelerator, group.config)
            check_config_name(report, key, group)
            counts = _schedule(report, key, group.replicas_by_slice, n, "replicas_by_slice")
            report.check("memory")
            rep = physics(sname, key, key)
            if counts is None or rep is None:
                continue
            replicas[key] += counts
            peak = float(counts.max())
            spot = group.config.endswith("-spot")
            kwh, carbon, cost = sv.charges(inst, group.region, group.accelerator, rep.gpus, counts * sv.weights,
                                           spot=spot)
            for label, stated, value, units in [
                    ("replicas", group.replicas, peak, "replicas"), ("gpus", group.gpus, peak * rep.gpus, "GPUs"),
                    ("cost_usd", group.cost_usd, cost, "USD"), ("carbon_t", group.carbon_t, carbon, "t CO2e"),
                    ("power_mw", group.power_mw, peak * rep.mw, "MW")]:
                report.stated(key, label, stated, value, units)
            draws.append(Draw(f"service '{sname}' replicas", group.region, group.accelerator, peak * rep.gpus,
                              peak * rep.mw, carbon, cost, kwh / 1e3, service=sname,
                              gpus_by_slice=counts * rep.gpus, mw_by_slice=counts * rep.mw, spot=spot))
        for route in dec.routing:
            option = (sname, route.region, route.accelerator, route.config)
            key = option + (route.population,)
            rps = _schedule(report, key, route.rps_by_slice, n, "rps_by_slice")
            if rps is None:
                continue
            report.stated(key, "rps", route.rps, float(rps.max()), "requests/s")
            scratch_load, scratch_routed, scratch_loads, pending = defaultdict(float), defaultdict(float), [], []
            # the route's own rules (residency, RTT, SLO capacity) once, at its peak
            _check_route(inst, sname, route.model_copy(update={"rps": float(rps.max())}), report, physics,
                         scratch_routed, pending)
            _settle_routes(pending, report, scratch_load, scratch_loads)
            if not scratch_loads:
                if math.isinf(scratch_load.get(option, 0.0)):
                    load[option] += np.inf
                continue
            per_replica = scratch_loads[0][2]
            load[option] += rps / per_replica
            routed[(sname, route.population, route.region)] += rps
            for s, label in enumerate(sv.labels):
                demand = sv.value(f"serving.{sname}.demand_rps.{route.population}",
                                  inst.serving[sname].demand_rps.get(route.population, 0.0))[s]
                report.upper("route_needs_replica", key + (label,), rps[s],
                             min(demand, per_replica) * replicas.get(option, np.zeros(n))[s], "requests/s",
                             "a route carries traffic beyond what the replicas of its option may take")
    served: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for (sname, pname, _), rps in routed.items():
        served[(sname, pname)] += rps
    for sname, svc in inst.serving.items():
        for pname, static in svc.demand_rps.items():
            demand = sv.value(f"serving.{sname}.demand_rps.{pname}", static)
            got = served.get((sname, pname), np.zeros(n))
            for s, label in enumerate(sv.labels):
                report.check("demand")
                if abs(got[s] - demand[s]) > ABS_TOL + REL_TOL * demand[s]:
                    report.add("demand", (sname, pname, label), abs(got[s] - demand[s]), "requests/s",
                               f"routes carry {got[s]:.6g} requests/s of a demand of {demand[s]:.6g}")
    for key in sorted(set(replicas) | set(load)):
        have, need = replicas.get(key, np.zeros(n)), load.get(key, np.zeros(n))
        for s, label in enumerate(sv.labels):
            report.upper("replica_capacity", key + (label,), need[s], have[s], "replicas",
                         "routed load with headroom needs more replicas than the plan buys")
    _samples_every_slice(inst, sv, routed, report)
    return draws, {k: float(v.min()) for k, v in routed.items()}


def _samples_every_slice(inst: Instance, sv: SliceView, routed: dict, report: Report) -> None:
    """Monitored traffic supplies its groups' samples in every slice, not just the busy ones."""
    for (sname, pname, rname), rps in sorted(routed.items()):
        mon, pop = inst.serving[sname].monitoring, inst.populations.get(pname)
        if mon is None or pop is None or not pop.groups or rps.max() <= 0:
            continue
        samples = float(samples_to_detect_gap(mon.min_detectable_gap, mon.confidence))
        for gname, share in pop.groups.items():
            for s, label in enumerate(sv.labels):
                report.upper("monitoring_samples", (sname, pname, rname, f"{pname}/{gname}", label), samples,
                             share * mon.window_hours * 3600.0 * rps[s], "samples per window",
                             "the group's traffic in the slice is too small to supply the samples that detect the gap")
