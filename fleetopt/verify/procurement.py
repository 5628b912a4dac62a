"""Procurement classes re-checked (families inventory, spot_stock, reported): GPUs held on-demand (less the
reserved GPUs in use) within the on-demand count, spot GPUs within the spot count, and the reserved figures of
the totals.

Rules (restating formulation/families.py: add_reserved, add_procurement): a region's reserved GPUs replace
the GPUs it holds on-demand first: in each slice the reserved GPUs in use are min(reserved count, the GPU-hours
billed there on-demand / the slice's hours), and each earns back the on-demand price per hour. The commitment,
reserved count x reserved price x horizon, is paid whatever the plan. Spot draws are priced and re-derived in
verify/training.py and verify/serving.py.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from fleetopt.io.schema import Instance, RegionGpus
from fleetopt.plan import Plan
from fleetopt.verify.draw import Draw
from fleetopt.verify.report import Report


def has_classes(inst: Instance) -> bool:
    return any(g.reserved is not None or g.spot is not None for reg in inst.regions.values()
               for g in reg.gpus.values())


def stock_limit(stock: RegionGpus | None, spot: bool) -> float:
    """GPUs a class may hold: the spot count, or the on-demand count (reserved GPUs in use come on top)."""
    if stock is None:
        return 0.0
    if spot:
        return float(stock.spot.count) if stock.spot is not None else 0.0
    return float(stock.count)


def reserved_in_use(inst: Instance, draws: list[Draw]) -> dict[tuple[str, str], np.ndarray]:
    """(region, accelerator) -> [S] reserved GPUs in use: min(reserved count, billed on-demand GPU-hours / the
    slice's hours)."""
    weights = np.asarray(inst.timeline.weights, dtype=float)
    billed: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(len(weights)))
    for d in draws:
        if d.stocked and not d.spot:
            billed[(d.region, d.accelerator)] += billed_gpu_hours(d, weights)
    return {(r, a): np.minimum(float(g.reserved.count), billed.get((r, a), np.zeros(len(weights))) / weights)
            for r, reg in inst.regions.items() for a, g in reg.gpus.items() if g.reserved is not None}


def billed_gpu_hours(d: Draw, weights: np.ndarray) -> np.ndarray:
    """[S] GPU-hours a draw is billed in each slice."""
    if d.gpu_hours is not None:
        return np.asarray(d.gpu_hours, dtype=float)
    gpus = np.full(len(weights), float(d.gpus)) if d.gpus_by_slice is None else np.asarray(d.gpus_by_slice, float)
    return gpus * weights


def verify_reserved(inst: Instance, plan: Plan, draws: list[Draw], report: Report) -> float:
    """Check the reserved figures the plan states; return commitment - saving (USD the totals add)."""
    if not has_classes(inst):
        return 0.0
    weights = np.asarray(inst.timeline.weights, dtype=float)
    commitment, saving = 0.0, 0.0
    for (rname, aname), used in reserved_in_use(inst, draws).items():
        g = inst.regions[rname].gpus[aname]
        commitment += g.reserved.count * g.reserved.usd_per_hour * inst.horizon_hours
        saving += g.usd_per_hour * float(used @ weights)
    if plan.totals is not None:
        report.stated(("totals",), "reserved_usd", plan.totals.reserved_usd or 0.0, commitment, "USD")
        report.stated(("totals",), "reserved_saving_usd", plan.totals.reserved_saving_usd or 0.0, saving, "USD")
    return commitment - saving
