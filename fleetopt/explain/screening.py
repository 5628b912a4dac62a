"""Infeasibility known before any solve: a job no candidate finishes in time, a population no route serves
within its SLO or residency. The relaxation is read from the candidates themselves (no MILP)."""

from __future__ import annotations

import math

from fleetopt.pipeline.problem import Problem
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.training import enumerate_training
from fleetopt.plan.explanation import IisMember, Infeasibility, Relaxation
from fleetopt.io.schema import Instance

SLO_QUEUE_SHARE = 0.25     # a suggested SLO leaves this share of itself for queueing


def round_up(value: float, digits: int = 3) -> float:
    """`value` rounded up to `digits` significant digits (a limit that is sure to hold)."""
    if value <= 0:
        return value
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return math.ceil(value / step - 1e-9) * step


def _has_candidates(inst: Instance, job: str, deadline_hours: float) -> bool:
    trial = inst.model_copy(deep=True)
    trial.training[job].deadline_hours = deadline_hours
    trial.training = {job: trial.training[job]}
    return enumerate_training(trial).stats[job].get("kept", 0) > 0


def _least_deadline(inst: Instance, job: str, rtol: float = 1e-3) -> float | None:
    """The least deadline some candidate of `job` meets (bisection: pruning keeps only the candidates with the
    fewest GPUs that meet a deadline, so the fastest one shows only near its own wall time)."""
    low = inst.training[job].deadline_hours
    high = low * 2.0
    while not _has_candidates(inst, job, high):
        if high > 1e7:
            return None
        low, high = high, high * 2.0
    while high / low > 1.0 + rtol:
        mid = math.sqrt(low * high)
        low, high = (low, mid) if _has_candidates(inst, job, mid) else (mid, high)
    return high


def _least_slo(inst: Instance, service: str, population: str) -> float | None:
    relaxed = inst.model_copy(deep=True)
    relaxed.serving[service].slo_p99_ms = 1e9
    sc = enumerate_serving(relaxed, prune=False)
    s, u = sc.service_names.index(service), sc.population_names.index(population)
    mine = (sc.service[sc.route_option] == s) & (sc.route_population == u)
    if not mine.any():
        return None
    o = sc.route_option[mine]
    total_ms = sc.route_rtt_ms[mine] + (sc.prefill_s[o] + sc.decode_s[o]) * 1e3
    return float(total_ms.min() / (1.0 - SLO_QUEUE_SHARE))


def screening_infeasibility(problem: Problem) -> Infeasibility:
    inst = problem.inst
    members, relaxations = [], []
    for job, st in problem.training.stats.items():
        if st.get("kept", 0):
            continue
        if st.get("fit", 0) == 0:
            members.append(IisMember(name=f"memory[{job}]", family="memory", bound="upper"))
            continue
        members.append(IisMember(name=f"deadline[{job}]", family="deadline", bound="upper"))
        least = _least_deadline(inst, job)
        if least is not None:
            current, new = inst.training[job].deadline_hours, round_up(least)
            relaxations.append(Relaxation(family="deadline", key=[job], setting=f"training.{job}.deadline_hours",
                                          current=current, suggested=new, units="h",
                                          line=f"raise deadline of {job} from {current:g} h to {new:g} h"))
    for service, population, why in problem.serving.unroutable:
        pop = inst.populations.get(population)
        if "SLO" in why:
            members.append(IisMember(name=f"slo[{service},{population}]", family="slo", bound="upper"))
            least = _least_slo(inst, service, population)
            if least is not None:
                current, new = inst.serving[service].slo_p99_ms, round_up(least)
                relaxations.append(Relaxation(
                    family="slo", key=[service], setting=f"serving.{service}.slo_p99_ms", current=current,
                    suggested=new, units="ms", line=f"raise slo_p99_ms of {service} from {current:g} ms to {new:g} ms"))
        elif pop is not None and pop.allowed_jurisdictions is not None:
            members.append(IisMember(name=f"residency[{population}]", family="residency", bound="both"))
            relaxations.append(Relaxation(
                family="residency", key=[population], setting=f"populations.{population}.allowed_jurisdictions",
                current=None, suggested=None, units="",
                line=f"allow {population} outside {', '.join(pop.allowed_jurisdictions)} (or add capacity there)"))
        else:
            members.append(IisMember(name=f"route[{service},{population}]", family="route", bound="both"))
    return Infeasibility(source="screening", reasons=problem.screening_problems(), iis=members,
                         families=sorted({m.family for m in members}), method="candidate screening",
                         relaxations=relaxations)
