"""Fairness monitoring re-checked from the physics (families monitoring_traffic, monitoring_samples,
monitoring_pipeline, monitoring_coverage, config, reported).

Modelling rules re-derived here (they restate fleetopt/candidates/monitoring.py and formulation/monitoring.py):
- a (service, population, region) is monitored when the service has a `monitoring` block, the population has
  protected groups, and the plan routes its traffic there; samples never leave the serving region, so every
  such region needs a pipeline of that service listing the population's groups (traffic => monitored =>
  pipeline).
- each group of a monitored population needs samples_to_detect_gap(min_detectable_gap, confidence) samples per
  window, supplied by its share of the routed traffic: share x window seconds x routed requests/s.
- evaluator GPUs needed per monitored population = sum over its groups of
  physics.fairness.evaluator_gpus(samples, evaluator_gpu_s_per_sample, window_hours); a pipeline's evaluator
  GPUs cover the sum over the populations it monitors.
- evaluators are GPUs of the pipeline's accelerator in its region, possibly a fraction of one (evaluation is
  batch work billed by the GPU-hour); they count in inventory, power and carbon as that fraction: per GPU,
  TDP x PUE for the horizon; cost = price x hours (+ energy when the price excludes it) and the pipeline's
  pipeline_usd_per_hour x horizon. A service's GPU count rounds each pipeline's evaluators up.
"""

from __future__ import annotations

import math
from collections import defaultdict

from fleetopt.io.schema import Instance
from fleetopt.physics.energy import embodied_carbon_t, energy_kwh, fleet_power_w, operational_carbon_t
from fleetopt.physics.fairness import evaluator_gpus, samples_to_detect_gap
from fleetopt.plan import MonitoringDecision, Plan
from fleetopt.verify.draw import Draw
from fleetopt.verify.report import ABS_TOL, REL_TOL, Report
from fleetopt.verify.slices import SliceView


def verify_monitoring(inst: Instance, plan: Plan, routed: dict[tuple[str, str, str], float],
                      report: Report) -> list[Draw]:
    draws: list[Draw] = []
    pipelines: dict[tuple[str, str], MonitoringDecision] = {}
    for sname, dec in plan.serving.items():
        if sname not in inst.serving:
            continue
        for md in dec.monitoring:
            report.check("monitoring_pipeline")
            if (sname, md.region) in pipelines:
                report.add("monitoring_pipeline", (sname, md.region), 1, "pipelines",
                           "two pipelines for one service in one region")
                continue
            pipelines[(sname, md.region)] = md
    for (sname, pname, rname), rps in sorted(routed.items()):
        mon, pop = inst.serving[sname].monitoring, inst.populations[pname]
        # traffic within the feasibility tolerance of the population's demand is a solver residue, not a route
        residue = ABS_TOL + REL_TOL * float(inst.serving[sname].demand_rps.get(pname, 0.0))
        if mon is None or not pop.groups or rps <= residue:
            continue
        md = pipelines.get((sname, rname))
        report.check("monitoring_pipeline")
        report.check("monitoring_traffic")
        if md is None:
            report.add("monitoring_pipeline", (sname, pname, rname), 1, "pipelines",
                       f"{rps:.6g} requests/s of a monitored population are served where the service runs no "
                       "monitoring pipeline")
        elif pname not in {g.population for g in md.groups}:
            report.add("monitoring_traffic", (sname, pname, rname), rps, "requests/s",
                       "traffic served in the region, but its pipeline does not monitor the population")
    for (sname, rname), md in pipelines.items():
        draw = _verify_pipeline(inst, sname, rname, md, routed, report)
        if draw is not None:
            draws.append(draw)
    return draws


def _verify_pipeline(inst: Instance, sname: str, rname: str, md: MonitoringDecision, routed: dict,
                     report: Report) -> Draw | None:
    svc, region = inst.serving[sname], inst.regions.get(rname)
    mon, key = svc.monitoring, (sname, rname)
    report.check("config")
    if mon is None:
        report.add("config", key, 1, "pipelines", "a monitoring pipeline for a service without `monitoring`")
        return None
    if region is None or md.accelerator not in inst.accelerators:
        report.add("config", key, 1, "pipelines", f"unknown region '{rname}' or accelerator '{md.accelerator}'")
        return None
    if not (math.isfinite(md.evaluator_gpus) and md.evaluator_gpus >= 0):
        report.add("config", key, abs(md.evaluator_gpus), "evaluator GPUs",
                   "evaluator GPUs must be a finite number >= 0")
        return None
    samples = float(samples_to_detect_gap(mon.min_detectable_gap, mon.confidence))
    window_s = mon.window_hours * 3600.0
    listed: dict[str, set[str]] = defaultdict(set)
    for g in md.groups:
        pop = inst.populations.get(g.population)
        if pop is None or g.group not in pop.groups:
            report.add("config", key + (f"{g.population}/{g.group}",), 1, "groups", "unknown population or group")
            continue
        listed[g.population].add(g.group)
        rps = routed.get((sname, g.population, rname), 0.0)
        requests = pop.groups[g.group] * rps * window_s
        report.stated(key + (f"{g.population}/{g.group}",), "samples_per_window", g.samples_per_window, samples,
                      "samples")
        report.stated(key + (f"{g.population}/{g.group}",), "requests_per_window", g.requests_per_window,
                      requests, "requests")
        rate = min(1.0, samples / requests) if requests > 0 else 1.0
        report.stated(key + (f"{g.population}/{g.group}",), "sampling_rate", g.sampling_rate, rate, "fraction")
    need = 0.0
    for pname in sorted(listed):
        pop = inst.populations[pname]
        rps = routed.get((sname, pname, rname), 0.0)
        for gname, share in pop.groups.items():
            supplied = share * window_s * rps
            report.upper("monitoring_samples", (sname, pname, rname, f"{pname}/{gname}"), samples, supplied,
                         "samples per window", "the group's traffic in the region is too small to supply the samples "
                         "that detect the gap")
        need += float(sum(evaluator_gpus(samples, mon.evaluator_gpu_s_per_sample, mon.window_hours)
                          for _ in pop.groups))
    report.upper("monitoring_coverage", key, need, md.evaluator_gpus, "evaluator GPUs",
                 "evaluator GPUs needed for every monitored group's samples each window")
    acc, stock = inst.accelerators[md.accelerator], region.gpus.get(md.accelerator)
    hours = inst.horizon_hours
    watts = float(fleet_power_w(1, acc.tdp_w, region.pue))
    kwh = float(energy_kwh(watts, hours))
    carbon = float(operational_carbon_t(kwh, region.mean_carbon_g_per_kwh))
    if inst.policy.include_embodied:
        carbon += float(embodied_carbon_t(1, acc.embodied_kgco2e, hours, acc.lifetime_hours))
    per_gpu_usd = (stock.usd_per_hour * hours + (0.0 if stock.includes_energy else kwh * region.energy_usd_per_kwh)
                   if stock is not None else 0.0)
    if not inst.timeline.is_static:  # an evaluator GPU through every slice, at each slice's intensity and price
        sv = SliceView(inst)
        kwh, carbon, per_gpu_usd = sv.charges(inst, rname, md.accelerator, 1, sv.weights)
    pipe_usd = mon.pipeline_usd_per_hour * hours
    n = md.evaluator_gpus
    report.stated(key, "evaluator_gpus_needed", md.evaluator_gpus_needed, need, "evaluator GPUs")
    report.stated(key, "pipeline_cost_usd", md.pipeline_cost_usd, pipe_usd, "USD")
    report.stated(key, "evaluator_cost_usd", md.evaluator_cost_usd, n * per_gpu_usd, "USD")
    return Draw(f"service '{sname}' monitoring", rname, md.accelerator, n, n * watts / 1e6, n * carbon,
                pipe_usd + n * per_gpu_usd, n * kwh / 1e3, service=sname, counted_gpus=math.ceil(n - 1e-9))
