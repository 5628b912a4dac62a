"""Explain a plan in the chapter's diagnostic order: symptom, metric, C3 term, fleet-stack layer, displaced cost,
governance evidence.

    explanation = explain(problem, plan, x, options)   # x: the solver's columns (or plan_to_x(problem, plan))
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fleetopt.pipeline.problem import Problem
from fleetopt.backends.result import SolveOptions
from fleetopt.explain.binding import binding_constraints
from fleetopt.explain.change import explain_change
from fleetopt.explain.c3 import job_terms, nearest_rtt_ms, route_latencies, route_loads, service_terms
from fleetopt.explain.infeasible import explain_infeasible
from fleetopt.plan.explanation import (
    Diagnostic,
    Explanation,
    FamilyMargin,
    Governance,
    GroupCoverage,
    JobExplanation,
    ServiceExplanation,
)
from fleetopt.errors import INFEASIBLE
from fleetopt.explain.runner_up import runner_up
from fleetopt.explain.time import explain_time
from fleetopt.formulation.families import objective_weights
from fleetopt.formulation.model import Formulation, key_name
from fleetopt.io.numbers import RESIDUE, money, num, pct, whole
from fleetopt.plan import Plan

TRAINING_LAYER = {"compute": "Infrastructure (accelerator efficiency, memory, power)",
                  "communication": "Distributed ML: communication (fabric, collectives, pipeline)",
                  "coordination": "Distributed ML: coordination (sync groups, stragglers, fault tolerance)"}
SERVING_LAYER = {"compute": "Infrastructure (accelerator roofline, memory wall)",
                 "communication": "Deployment: collectives inside a replica (TP AllReduce, embedding all-to-all)",
                 "coordination": "Deployment: placement, routing and request scheduling"}


def explain(problem: Problem, plan: Plan, x: np.ndarray | None, options: SolveOptions) -> Explanation:
    if not plan.has_plan or x is None:
        out = Explanation(status=plan.status)
        if plan.status == INFEASIBLE:
            out.infeasibility = explain_infeasible(problem, options)
        out.governance = governance(problem, plan, None)
        return out
    # the pricing LPs run in HiGHS, outside the GIL, while this thread explains the jobs and services
    # (x10: 0.26 s of LPs beside 0.6 s of Python; benchmarks/RESULTS.md, branch x10m)
    with ThreadPoolExecutor(1) as pool:
        pricing = pool.submit(binding_constraints, problem.form, x)
        jobs = explain_jobs(problem, x)
        services = explain_services(problem, x)
        binding, note = pricing.result()
    out = Explanation(status=plan.status, binding=binding, price_note=note, jobs=jobs, services=services,
                      governance=governance(problem, plan, x))
    out.time = explain_time(problem, plan, x, binding)
    out.first_binding_term = first_term(problem, x, jobs, services)
    out.change = explain_change(problem, plan, x, binding, options)   # re-planning a deployed fleet
    out.diagnostic = diagnostic(plan, out)
    return out


def explain_jobs(problem: Problem, x: np.ndarray) -> list[JobExplanation]:
    out = []
    for c in np.flatnonzero(x[problem.form.blocks["train_choice"].cols] > 0.5):
        job = job_terms(problem, int(c))
        job.runner_up = runner_up(problem, x, int(c))
        out.append(job)
    return out


def explain_services(problem: Problem, x: np.ndarray) -> list[ServiceExplanation]:
    out = []
    loads = route_loads(problem, x)
    for s, name in enumerate(problem.serving.service_names):
        routes = route_latencies(problem, s, loads)
        if routes:
            out.append(ServiceExplanation(service=name, routes=routes, terms=service_terms(routes),
                                          deciding=routing_rules(problem, s, routes, loads.service)))
    return out


def routing_rules(problem: Problem, s: int, routes, route_service: np.ndarray) -> list[str]:
    """The residency rules and SLOs that decided where each population is served (`route_service`: each route's
    service, c3.RouteLoads.service)."""
    inst, sc = problem.inst, problem.serving
    name = sc.service_names[s]
    svc = inst.serving[name]
    # placement is argued in the objective's own terms: dollars, tonnes, or the weighted sum in dollars
    w_usd, w_t, objective = objective_weights(inst)
    if objective == "carbon_t":
        cheaper, dearer = "emits less", "emits more"

        def amount(v: float) -> str:
            return f"{num(v)} t CO2e"
    else:
        cheaper, dearer = "is cheaper", "costs more"
        amount = money
    lines = []
    for population in svc.demand_rps:
        pop = inst.populations.get(population)
        if pop is None:
            continue
        u = sc.population_names.index(population)
        mine = (route_service == s) & (sc.route_population == u)
        reachable = {sc.region_names[r] for r in sc.region[sc.route_option[mine]]}
        if pop.allowed_jurisdictions is not None:
            barred = [r for r in pop.rtt_ms if r in inst.regions
                      and inst.regions[r].jurisdiction not in pop.allowed_jurisdictions]
            if barred:
                lines.append(f"residency: {population} may only be served in {', '.join(pop.allowed_jurisdictions)}"
                             f", which rules out {', '.join(barred)}")
        allowed = [r for r in pop.rtt_ms if r in inst.regions and inst.regions[r].kind == "datacenter"
                   and (pop.allowed_jurisdictions is None or inst.regions[r].jurisdiction in pop.allowed_jurisdictions)]
        too_far = [f"{r} ({num(pop.rtt_ms[r])} ms)" for r in allowed if r not in reachable]
        if too_far:
            lines.append(f"SLO {num(svc.slo_p99_ms)} ms: no configuration serves {population} from "
                         f"{', '.join(too_far)} within RTT + service time + p99 queueing")
        nearest = nearest_rtt_ms(problem, population)
        # what a request/s of capacity (with headroom) adds to the objective per region, over this population's routes
        options = sc.route_option[mine]
        per_replica = w_usd * sc.cost_usd_per_replica[options] + w_t * sc.carbon_t_per_replica[options]
        per_rps = per_replica * (1.0 + svc.headroom) / sc.route_capacity_rps[mine]
        regions = np.array(sc.region_names)[sc.region[options]]
        farther = dict.fromkeys(r.region for r in routes if r.population == population and r.rtt_ms > nearest + 1e-9)
        for region in farther:
            closest = min((g for g in allowed if pop.rtt_ms[g] <= nearest + 1e-9), default="?")
            here, there = per_rps[regions == region].min(), per_rps[regions == closest].min(initial=np.inf)
            if closest not in reachable:
                why = "no route there meets the SLO"
            elif here < there:
                why = f"capacity {cheaper} there ({amount(here)} vs {amount(there)} per request/s over the horizon)"
            else:
                why = (f"capacity {dearer} there ({amount(here)} vs {amount(there)} per request/s) but the placement "
                       "shares replicas, shard groups and monitoring pipelines with other traffic")
            lines.append(f"placement: {population} is served from {region} ({num(pop.rtt_ms[region])} ms) rather "
                         f"than {closest} ({num(nearest)} ms): {why}")
    return lines


def first_term(problem: Problem, x: np.ndarray, jobs, services) -> str | None:
    """The term of the workload holding the most GPU-hours over the horizon."""
    inst, tc, sc, form = problem.inst, problem.training, problem.serving, problem.form
    weights = []
    chosen = np.flatnonzero(x[form.blocks["train_choice"].cols] > 0.5)
    for c, job in zip(chosen, jobs):
        weights.append((float(tc.gpus[c] * min(tc.wall_hours[c], inst.horizon_hours)), job.terms.binding))
    # replica-hours per option: over slices, each slice's replicas for the hours it stands for
    hours = np.array([inst.horizon_hours]) if form.time is None else form.time.slices.weights
    replica_hours = np.round(x[form.blocks["replicas"].cols]).reshape(len(sc), len(hours)) @ hours
    for svc in services:
        mine = sc.service == sc.service_names.index(svc.service)
        weights.append((float((replica_hours[mine] * sc.gpus_per_replica[mine]).sum()), svc.terms.binding))
    return max(weights)[1] if weights else None


def family_margins(form: Formulation, x: np.ndarray) -> list[FamilyMargin]:
    """Every inequality family's tightest row: limit - activity, and relative to the limit."""
    activity, engaged = form.row_activity(x)
    out = []
    for fam in form.families.values():
        if np.all(fam.lower == fam.upper) or not fam.size:
            continue
        rows = slice(fam.start, fam.start + fam.size)
        act = activity[rows]
        margin = np.where(np.isfinite(fam.upper), fam.upper - act, act - fam.lower)
        limit = np.where(np.isfinite(fam.upper), fam.upper, fam.lower)
        # relative to the limit where it has a scale; rows like "usage - capacity <= 0" compare in units
        scale = np.where(np.abs(limit) > 0, np.abs(limit), 1.0)
        order = np.where(engaged[rows], margin / scale, np.inf)
        # solver residues tie at 0, so the first of the tied rows is named whichever x the plan came from
        order = np.where(np.abs(order) < RESIDUE, 0.0, order)
        i = int(np.argmin(order)) if np.isfinite(order).any() else int(np.argmin(margin / scale))
        out.append(FamilyMargin(family=fam.name, tightest=key_name(fam.name, fam.keys[i]),
                                activity=float(act[i]), limit=float(limit[i]), margin=float(margin[i]),
                                relative_margin=float(margin[i] / abs(limit[i])) if limit[i] else None,
                                units=fam.units))
    return out


def governance(problem: Problem, plan: Plan, x: np.ndarray | None) -> Governance:
    prov = plan.provenance
    coverage = [GroupCoverage(service=s, region=m.region, population=g.population, group=g.group,
                              samples_per_window=g.samples_per_window, requests_per_window=g.requests_per_window,
                              sampling_rate=g.sampling_rate, evaluator_gpus=m.evaluator_gpus,
                              evaluator_gpus_needed=m.evaluator_gpus_needed)
                for s, dec in plan.serving.items() for m in dec.monitoring for g in m.groups]
    return Governance(input_sha256=prov.input_sha256, solver=prov.solver, solver_version=prov.solver_version,
                      options=prov.options, margins=family_margins(problem.form, x) if x is not None else [],
                      monitoring=coverage)


def _tightest(out: Explanation, family: str) -> str:
    for m in out.governance.margins if out.governance else []:
        if m.family == family:
            return f"{m.tightest} margin {num(m.margin, 4, m.limit)} {m.units}"
    return ""


def diagnostic(plan: Plan, out: Explanation) -> list[Diagnostic]:
    lines = []
    carbon = _tightest(out, "carbon_budget")
    for job in out.jobs:
        d = plan.training[job.job]
        t = job.terms
        lines.append(Diagnostic(
            subject=f"training {job.job}",
            symptom=f"step {num(job.step_time_s, 3)} s at {pct(d.mfu, 0)} MFU on {whole(d.gpus)} {d.accelerator} "
                    f"(ideal {num(t.ideal_s, 3)} s)",
            metric=f"time over ideal per step: compute {num(t.compute_s, 3)} s, communication "
                   f"{num(t.communication_s, 3)} s, coordination {num(t.coordination_s, 3)} s",
            c3_term=t.binding, layer=TRAINING_LAYER[t.binding],
            displaced_cost=job.runner_up.reason if job.runner_up else "no other candidate",
            governance_evidence=f"goodput {pct(job.goodput)} (checkpoints {pct(job.checkpoint_loss)}, failures "
                                f"{pct(job.failure_loss)}); {num(d.carbon_t, 3)} t CO2e"
                                + (f"; {carbon}" if carbon else "")))
    for svc in out.services:
        t = svc.terms
        groups = out.governance.monitoring if out.governance else []
        monitored = [g for g in groups if g.service == svc.service]
        evidence = (f"{len(monitored)} protected groups monitored, lowest sampling rate "
                    f"{pct(min(g.sampling_rate for g in monitored), 2)}" if monitored
                    else "no fairness monitoring configured")
        worst = min(svc.routes, key=lambda r: r.slack_ms)
        lines.append(Diagnostic(
            subject=f"service {svc.service}",
            symptom=f"p99 {whole(worst.slo_ms - worst.slack_ms)} ms of {whole(worst.slo_ms)} ms for "
                    f"{worst.population} in {worst.region}",
            metric=f"latency over ideal per request: compute {num(t.compute_s * 1e3, 3)} ms, communication "
                   f"{num(t.communication_s * 1e3, 3)} ms, coordination {num(t.coordination_s * 1e3, 3)} ms",
            c3_term=t.binding, layer=SERVING_LAYER[t.binding],
            displaced_cost="; ".join(svc.deciding) or "routes follow the nearest region",
            governance_evidence=evidence))
    return lines
