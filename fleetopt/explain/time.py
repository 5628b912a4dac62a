"""A plan over time slices explained: which slices bind and at what price, when each job runs and the carbon it
avoids against running as early as possible, and how each service's replicas follow its demand."""

from __future__ import annotations

import numpy as np

from fleetopt.pipeline.problem import Problem
from fleetopt.plan import Plan
from fleetopt.plan.explanation import (
    BindingConstraint,
    JobSchedule,
    ServiceSchedule,
    SliceBinding,
    TimeExplanation,
)


def binding_slices(labels: list[str], weights: np.ndarray, binding: list[BindingConstraint]) -> list[SliceBinding]:
    """The slices in which rows bind, in slice order, with each row's price."""
    out = []
    for s, label in enumerate(labels):
        # demand rows are equalities priced alongside the binding rows; at price 0 they say nothing of the slice
        mine = [b for b in binding if b.key and b.key[-1] == label and (b.family != "demand" or b.shadow_price)]
        if mine:
            out.append(SliceBinding(slice=label, hours=float(weights[s]), rows=[b.name for b in mine],
                                    prices=[b.shadow_price for b in mine]))
    return out


def job_schedules(problem: Problem, plan: Plan, x: np.ndarray) -> list[JobSchedule]:
    """Per job: the hours it runs in each slice, and its carbon against the same layout run from
    earliest_start_hour without a pause (the hours it would cover then: Timeline.hours_in_window).
    Source: formulation/time.py per-hour charges (physics/economics.horizon_charges) x hours per slice."""
    form, tc, inst = problem.form, problem.training, problem.inst
    time = form.time
    tl, weights = time.slices.timeline, time.slices.weights
    out = []
    for c in np.flatnonzero(x[form.blocks["train_choice"].cols] > 0.5):
        name = tc.job_names[tc.job[c]]
        job, dec = inst.training[name], plan.training.get(name)
        if dec is None or dec.hours_by_slice is None:
            continue
        per_hour = time.training.t[c] / weights
        hours = np.asarray(dec.hours_by_slice)
        end = min(job.deadline_hours, inst.horizon_hours)
        asap = tl.hours_in_window(job.earliest_start_hour, job.earliest_start_hour + time.training.required_hours[c])
        carbon, carbon_asap = float(hours @ per_hour), float(asap @ per_hour)
        out.append(JobSchedule(job=name, pausable=job.pausable, window=[job.earliest_start_hour, end],
                               hours_run=float(hours.sum()), hours_by_slice=list(dec.hours_by_slice),
                               carbon_t=carbon, carbon_asap_t=carbon_asap, carbon_avoided_t=carbon_asap - carbon))
    return out


def service_schedules(plan: Plan, n: int) -> list[ServiceSchedule]:
    out = []
    for name, dec in plan.serving.items():
        total = np.zeros(n, dtype=int)
        for g in dec.replicas:
            total += np.asarray(g.replicas_by_slice or [g.replicas] * n, dtype=int)
        if dec.replicas:
            out.append(ServiceSchedule(service=name, replicas_by_slice=[int(v) for v in total],
                                       peak=int(total.max()), trough=int(total.min())))
    return out


def explain_time(problem: Problem, plan: Plan, x: np.ndarray,
                 binding: list[BindingConstraint]) -> TimeExplanation | None:
    time = problem.form.time
    if time is None:
        return None
    labels, weights = time.slices.labels, time.slices.weights
    return TimeExplanation(labels=list(labels), weights=[float(w) for w in weights],
                           binding_slices=binding_slices(labels, weights, binding),
                           jobs=job_schedules(problem, plan, x), services=service_schedules(plan, len(labels)))
