"""The plan's change against the deployed fleet, read from the solver's columns (formulation/change.py):
GPUs whose assignment changes, the jobs that move or change layout, and what that costs."""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.tables import ServingCandidates, TrainingCandidates
from fleetopt.formulation.change import training_moves, workload_gpus
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance
from fleetopt.plan.model import ChangeSummary, JobMove


def changed_gpus(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, form: Formulation,
                 x: np.ndarray) -> int:
    """Sum over (workload, region, accelerator) of |GPUs in the solution - GPUs deployed|."""
    labels, cols, gpus = workload_gpus(tc, sc, form)
    held = dict.fromkeys(inst.deployed.gpus(), 0.0)
    for label, g in zip(labels, np.round(x[cols]) * gpus):
        held[label] = held.get(label, 0.0) + g
    deployed = inst.deployed.gpus()
    return int(round(sum(abs(g - deployed.get(k, 0)) for k, g in held.items())))


def change_summary(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, form: Formulation,
                   x: np.ndarray) -> ChangeSummary | None:
    fleet = inst.deployed
    if fleet is None:
        return None
    moves = training_moves(inst, tc)
    chosen = np.flatnonzero(x[form.blocks["train_choice"].cols] > 0.5)
    out = {}
    for c in chosen[moves.changes[chosen]]:
        name = tc.job_names[tc.job[c]]
        cur = fleet.training[name]
        out[name] = JobMove(from_region=cur.region, to_region=tc.region_names[tc.region[c]],
                            from_accelerator=cur.accelerator, to_accelerator=tc.accel_names[tc.accel[c]],
                            checkpoint_gb=float(moves.checkpoint_gb[c]), hours=float(moves.hours[c]),
                            egress_usd=float(moves.egress_usd[c]), cost_usd=float(moves.cost_usd[c]),
                            carbon_t=float(moves.carbon_t[c]))
    n = changed_gpus(inst, tc, sc, form, x)
    price = inst.policy.change_usd_per_gpu
    return ChangeSummary(current=fleet.file, changed_gpus=n, change_usd_per_gpu=price,
                         max_changed_gpus=inst.policy.max_changed_gpus, moves=out, finished=list(fleet.finished),
                         cost_usd=n * price + sum(m.cost_usd for m in out.values()),
                         carbon_t=sum(m.carbon_t for m in out.values()))
