"""Which class each GPU of a plan comes from (instances with `reserved` or `spot` stock; format version 2).

Decisions are priced at their class's price (spot or on-demand); the reserved GPUs in use (the formulation's
`reserved` columns) replace on-demand ones in their region, so the totals pay the reserved commitment and earn
back the on-demand rental those GPUs would have paid (formulation/families.py: add_procurement).
"""

from __future__ import annotations

import numpy as np

from fleetopt.candidates.tables import PROCUREMENT, ServingCandidates, TrainingCandidates
from fleetopt.formulation.model import Formulation
from fleetopt.io.schema import Instance
from fleetopt.plan.model import ServiceDecision, Totals, TrainingDecision

TOL = 1e-6


def has_classes(inst: Instance) -> bool:
    """Does any region stock an accelerator on reserved or spot terms?"""
    return any(g.reserved is not None or g.spot is not None for reg in inst.regions.values()
               for g in reg.gpus.values())


def reserved_in_use(form: Formulation, x: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """(region, accelerator) -> reserved GPUs in use per slice."""
    if "reserved" not in form.blocks:
        return {}
    block = form.blocks["reserved"]
    S = 1 if form.time is None else form.time.slices.n
    values = x[block.cols].reshape(-1, S)
    return {tuple(block.keys[i * S][:2]): np.maximum(values[i], 0.0) for i in range(len(values))}


def add_procurement(inst: Instance, tc: TrainingCandidates, sc: ServingCandidates, form: Formulation,
                    x: np.ndarray, training: dict[str, TrainingDecision], serving: dict[str, ServiceDecision],
                    totals: Totals) -> None:
    """Fill each decision's class, each region's GPUs per class and the reserved figures of the totals."""
    if not has_classes(inst):
        return
    reserved = reserved_in_use(form, x)
    tl = inst.timeline
    hours = np.asarray(tl.weights, dtype=float)
    held: dict[tuple[str, str], float] = {}       # GPUs held on-demand (peak) per (region, accelerator)
    spot: dict[tuple[str, str], float] = {}
    groups = [g for dec in serving.values() for g in dec.replicas]
    for d in list(training.values()) + groups:
        book = spot if d.procurement == PROCUREMENT[1] else held
        book[(d.region, d.accelerator)] = book.get((d.region, d.accelerator), 0.0) + d.gpus
    for dec in serving.values():
        for m in dec.monitoring:
            held[(m.region, m.accelerator)] = held.get((m.region, m.accelerator), 0.0) + m.evaluator_gpus

    def label(region: str, accel: str) -> str:
        used = float(reserved.get((region, accel), np.zeros(1)).max())
        if used <= TOL:
            return "on-demand"
        return "reserved" if used >= held.get((region, accel), 0.0) - TOL else "reserved+on-demand"

    for d in list(training.values()) + groups:
        if d.procurement != PROCUREMENT[1]:
            d.procurement = label(d.region, d.accelerator)
    saving, commitment = 0.0, 0.0
    for rname, reg in inst.regions.items():
        for aname, g in reg.gpus.items():
            key = (rname, aname)
            used = reserved.get(key, np.zeros(1))
            if g.reserved is not None:
                commitment += g.reserved.count * g.reserved.usd_per_hour * inst.horizon_hours
                saving += float(g.usd_per_hour * used @ hours)
            if key in held or key in spot or g.reserved is not None:
                use = totals.regions.get(rname)
                if use is None:
                    continue
                peak = float(used.max())
                classes = {"reserved": peak, "on-demand": max(held.get(key, 0.0) - peak, 0.0),
                           "spot": spot.get(key, 0.0)}
                use.gpus_by_class = (use.gpus_by_class or {}) | {aname: {k: _clean(v) for k, v in classes.items()}}
    totals.reserved_usd, totals.reserved_saving_usd = commitment, _clean(saving)
    totals.cost_usd += commitment - totals.reserved_saving_usd


def _clean(v: float) -> float:
    return 0.0 if abs(v) < 1e-9 else float(v)
