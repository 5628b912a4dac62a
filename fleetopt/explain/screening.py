"""Infeasibility known before any solve: a job no candidate finishes in time (or fits in memory), a population
no route serves within its SLO or residency. The conflicting rule is named as family[key] with its limit, and
the least limit that would let a candidate or a route exist is read from the candidates themselves: only the
one job or service concerned is enumerated again, at trial limits (the built problem holds only the
candidates that met the user's limits, so it cannot say which limit the others need).
"""

from __future__ import annotations

import math

from fleetopt.pipeline.problem import Problem
from fleetopt.candidates.serving import enumerate_serving
from fleetopt.candidates.training import enumerate_training
from fleetopt.facts import facts
from fleetopt.plan.explanation import IisMember, Relaxation
from fleetopt.io.schema import Instance

SLO_QUEUE_SHARE = 0.25     # a suggested SLO leaves this share of itself for p99 queueing, so replicas carry load
SEARCH_RTOL = 1e-3         # bisections stop when the bracket is this tight
SEARCH_MAX = 1e7           # no deadline (h) or SLO (ms) search goes past this


def round_up(value: float, digits: int = 3) -> float:
    """`value` rounded up to `digits` significant digits (a limit that is sure to hold)."""
    if value <= 0:
        return value
    step = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return math.ceil(value / step - 1e-9) * step


def number(value: float, integer: bool = False) -> str:
    """A limit as a planner reads it: whole counts with thousands separators, others at 6 significant digits."""
    if integer or (abs(value) >= 1e4 and float(value).is_integer()):
        return f"{value:,.0f}"
    return f"{value:,.6g}"


def relaxation(family: str, key: list[str], current: float, suggested: float) -> Relaxation:
    """A change of the family's declared setting (fleetopt/facts.py), worded in the direction that loosens it."""
    f = facts(family)
    s = f.setting
    if s.integer:
        suggested = float(math.ceil(suggested - 1e-9))
    if (suggested > current) != s.loosens_upward:
        raise ValueError(f"{f.row_name(key)}: {suggested:g} does not loosen {current:g}")
    units = f" {s.units}" if s.units else ""
    when = f" in slice {f.key_fields(key)['slice']}" if "slice" in f.key_fields(key) else ""
    line = (f"{s.verb} {f.setting_label(key)}{when} from {number(current, s.integer)}{units} to "
            f"{number(suggested, s.integer)}{units}")
    return Relaxation(family=family, key=list(key), setting=f.setting_path(key), current=current,
                      suggested=suggested, units=s.units, line=line)


def least_limit(holds, current: float) -> float | None:
    """The least limit above `current` at which `holds(limit)` is true (monotone in the limit), to SEARCH_RTOL;
    None when even SEARCH_MAX does not hold."""
    low, high = current, max(current, 1e-9) * 2.0
    while not holds(high):
        if high > SEARCH_MAX:
            return None
        low, high = high, high * 2.0
    while high / low > 1.0 + SEARCH_RTOL:
        mid = math.sqrt(low * high)
        low, high = (low, mid) if holds(mid) else (mid, high)
    return high


def _job_has_candidates(inst: Instance, job: str, deadline_hours: float) -> bool:
    """Whether some candidate of `job` alone meets `deadline_hours` (only this job is enumerated)."""
    trial = inst.model_copy(deep=True)
    trial.training = {job: trial.training[job]}
    trial.training[job].deadline_hours = deadline_hours
    return enumerate_training(trial).stats[job].get("kept", 0) > 0


def _pair_routable(inst: Instance, service: str, population: str, slo_ms: float) -> bool:
    """Whether the population has a route for the service at `slo_ms` (only this service and population)."""
    trial = inst.model_copy(deep=True)
    svc = trial.serving[service]
    svc.slo_p99_ms = slo_ms
    svc.demand_rps = {population: svc.demand_rps[population]}
    trial.serving = {service: svc}
    return not enumerate_serving(trial, prune=False).unroutable


def least_deadline(inst: Instance, job: str) -> float | None:
    """The least deadline some candidate of `job` meets (a bisection: pruning keeps only the candidates with the
    fewest GPUs that meet a deadline, so the fastest one shows only near its own wall time)."""
    return least_limit(lambda h: _job_has_candidates(inst, job, h), inst.training[job].deadline_hours)


def least_slo(inst: Instance, service: str, population: str) -> float | None:
    """The least SLO at which some route serves the population: RTT + service time + zero-load p99 queueing
    of its best region, the 'best' the screening reason states."""
    return least_limit(lambda ms: _pair_routable(inst, service, population, ms), inst.serving[service].slo_p99_ms)


def screening_diagnosis(problem: Problem) -> tuple[list[IisMember], list[str], list[Relaxation]]:
    """The rules screening broke (as IIS members), why in the user's names, and for each a change of its
    setting that lets a candidate or route exist (not yet checked by a solve: explain/infeasible.py does)."""
    inst = problem.inst
    members, reasons, relaxations = [], [], []
    for job, st in problem.training.stats.items():
        if st.get("kept", 0):
            continue
        why = st.get("why", "no feasible candidate")
        if st.get("fit", 0) == 0:
            members.append(IisMember(name=f"memory[{job}]", family="memory", bound="upper"))
            reasons.append(f"memory[{job}]: {why}")
            continue
        current = inst.training[job].deadline_hours
        members.append(IisMember(name=f"deadline[{job}]", family="deadline", bound="upper"))
        reasons.append(f"deadline[{job}] <= {number(current)} h: {why}")
        least = least_deadline(inst, job)
        if least is not None:
            relaxations.append(relaxation("deadline", [job], current, round_up(least)))
    slo_needed: dict[str, float] = {}
    for service, population, why in problem.serving.unroutable:
        pop = inst.populations.get(population)
        if "SLO" in why:
            current = inst.serving[service].slo_p99_ms
            members.append(IisMember(name=f"slo[{service},{population}]", family="slo", bound="upper"))
            reasons.append(f"slo[{service},{population}] <= {number(current)} ms: {why}")
            least = least_slo(inst, service, population)
            if least is not None:
                # above the least, so some replica also has queueing room and carries load
                needed = round_up(least / (1.0 - SLO_QUEUE_SHARE))
                slo_needed[service] = max(slo_needed.get(service, 0.0), needed)
        elif pop is not None and pop.allowed_jurisdictions is not None:
            members.append(IisMember(name=f"residency[{population}]", family="residency", bound="both"))
            reasons.append(f"residency[{population}] (only {', '.join(pop.allowed_jurisdictions)}): {why}; allow "
                           f"{population} elsewhere or stock an allowed region")
        else:
            members.append(IisMember(name=f"route[{service},{population}]", family="route", bound="both"))
            reasons.append(f"route[{service},{population}]: {why}")
    for service, needed in slo_needed.items():
        relaxations.append(relaxation("slo", [service], inst.serving[service].slo_p99_ms, needed))
    return members, reasons, relaxations
