"""A plan's decisions as the formulation's column vector, so that a plan read back from JSON can be explained
against its instance (fleetopt explain INSTANCE PLAN)."""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.tables import ON_DEMAND, SPOT
from fleetopt.formulation.change import set_changed
from fleetopt.formulation.families import set_reserved
from fleetopt.pipeline.problem import Problem
from fleetopt.plan.extract import RECOMPUTE
from fleetopt.plan import Plan


class PlanMismatch(ValueError):
    """The plan names a decision the instance's candidates do not have."""


def _put_schedule(form, x: np.ndarray, c: int, hours: list[float] | None, job: str) -> None:
    """A job's run shares (hours / slice weight) and, if it pauses, its resumes (where the share rises)."""
    sl = form.time.slices
    if hours is None or len(hours) != sl.n:
        raise PlanMismatch(f"training job '{job}': the plan has no hours_by_slice for the {sl.n} time slices")
    share = np.asarray(hours, dtype=float) / sl.weights
    x[form.blocks["train_run"].cols[c * sl.n:(c + 1) * sl.n]] = share
    resume = form.blocks.get("train_resume")
    first = {k[1]: i for i, k in enumerate(resume.keys) if i % sl.n == 0} if resume is not None else {}
    if c in first:
        x[resume.cols[first[c]:first[c] + sl.n]] = np.maximum(share - share[sl.prev], 0.0)


def plan_to_x(problem: Problem, plan: Plan) -> np.ndarray:
    form, tc = problem.form, problem.training
    x = np.zeros(form.n_cols)
    choice = form.blocks["train_choice"]
    for job, d in plan.training.items():
        if job not in tc.job_names:
            raise PlanMismatch(f"training job '{job}' is not in the instance")
        same = ((tc.job == tc.job_names.index(job)) & (tc.gpus == d.gpus) & (tc.tp == d.tp) & (tc.pp == d.pp)
                & (tc.dp == d.dp) & (tc.micro_batch == d.micro_batch) & (tc.interleave == d.interleave)
                & (tc.recompute == RECOMPUTE.index(d.recompute)) & (tc.sync_group == d.sync_group)
                & (np.array(tc.region_names)[tc.region] == d.region)
                & (np.array(tc.accel_names)[tc.accel] == d.accelerator)
                & (tc.procurement == (SPOT if d.procurement == "spot" else ON_DEMAND)))
        idx = np.flatnonzero(same)
        if not len(idx):
            raise PlanMismatch(f"training job '{job}': the plan's configuration is not a candidate of this instance")
        best = idx[np.argmin(np.abs(tc.checkpoint_interval_s[idx] / 60.0 - d.checkpoint_interval_min))]
        x[choice.cols[best]] = 1.0
        if form.time is not None:
            _put_schedule(form, x, int(best), d.hours_by_slice, job)
    column = {name: {tuple(k): i for i, k in enumerate(form.blocks[name].keys)}
              for name in ("replicas", "flow", "pipeline", "evaluators", "monitored")}

    labels = [()] if form.time is None else [(label,) for label in form.time.slices.labels]

    def put(block: str, key: tuple, value: float) -> None:
        i = column[block].get(key)
        if i is None:
            raise PlanMismatch(f"{block}[{','.join(key)}] is not a decision of this instance")
        x[form.blocks[block].cols[i]] = value

    def put_slices(block: str, key: tuple, values: list[float]) -> None:
        for label, v in zip(labels, values):
            put(block, key + label, v)

    for s, dec in plan.serving.items():
        for g in dec.replicas:
            put_slices("replicas", (s, g.region, g.accelerator, g.config),
                       [g.replicas] if g.replicas_by_slice is None else g.replicas_by_slice)
        for r in dec.routing:
            put_slices("flow", (s, r.region, r.accelerator, r.config, r.population),
                       [r.rps] if r.rps_by_slice is None else r.rps_by_slice)
        for m in dec.monitoring:
            put("pipeline", (s, m.region), 1.0)
            put("evaluators", (s, m.region, m.accelerator), m.evaluator_gpus)
            for population in {g.population for g in m.groups}:
                put("monitored", (s, population, m.region), 1.0)
    set_changed(form, problem.inst, tc, problem.serving, x)   # re-planning a deployed fleet (formulation/change.py)
    set_reserved(form, x)   # reserved GPUs in use: min(reserved count, GPUs billed on-demand)
    return x
