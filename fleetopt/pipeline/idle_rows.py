"""A better bound after a priced round: the prices of shared rows the round's plans leave idle, set to zero.

Why: the first MILP round starts from the part LPs' prices, and the LP prices stock whose whole replicas no
part's plan then buys (x100: the L4 stock of three regions priced at $8-16 a GPU while the joined plan holds 0-2
of their 5,801-8,930 GPUs). Each such price costs the bound p_r (u_r - activity), 265k of x100's 294.0M, and
moving it takes a whole round of part MILPs (every part has options in every region).
How: at prices p the round proved B_i <= min (c + A^T p) x over part i's plans. Set p' = p with the prices of
the idle rows (p_r > 0, the joined plan's activity at most IDLE_SHARE of u_r) at zero. Then only the columns on
those rows get cheaper at p'; every other column's cost stays or rises (x >= 0). Part i's plans either use none
of the cheaper columns, and cost at p' at least what they cost at p (so at least B_i), or use one: then, every
cheaper column being integer, the part's LP at p' with the row "sum of its cheaper columns >= 1" bounds them. So
    B'_i = min(B_i, that LP)   and   L(p') = sum_i B'_i - p'.b
is a valid bound, for one LP per part the rows touch (x100: 700 LPs, ~5 CPU s; the bound +234k, 32 parts lower).
An evaluator column (continuous) is forced through its pipeline: a plan holding evaluators where no pipeline
runs costs more than the same plan without them (their cost is positive), so the least plan has the pipeline.
Source: Geoffrion 1974, "Lagrangean relaxation for integer programming", Math. Prog. Study 2 (every p bounds);
the forcing row is the probing dichotomy of Savelsbergh 1994, "Preprocessing and probing techniques for mixed
integer programming problems", ORSA J. Comput. 6(4).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from fleetopt.backends.highs import solve_lp
from fleetopt.formulation.split import Part, with_cost

IDLE_SHARE = 0.1     # a priced <= row is idle when the joined plan uses at most this share of its limit


def idle_rows(p: np.ndarray, activity: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Indices of the priced <= rows (p > 0, a positive finite limit) the plan uses at most IDLE_SHARE of."""
    finite = np.isfinite(upper) & (upper > 0)
    limit = np.where(finite, upper, 0.0)
    return np.flatnonzero((p > 0) & finite & (activity <= IDLE_SHARE * limit))


def with_idle_rows_free(parts: list[Part], p: np.ndarray, a_shared: sp.spmatrix, upper: np.ndarray,
                        activity: np.ndarray, priced_cost: np.ndarray, workers: int,
                        deadline: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(p', each part's forced LP value: inf where no plan of it can use a cheaper column) as in the module
    docstring, `activity` the joined plan's on the shared rows; then B'_i = min(B_i, forced_i) for any bound B_i
    proven at p. None when no row is idle, a column on an idle row could be negative, or the clock ran out before
    every part touched was bounded."""
    idle = idle_rows(p, activity, upper)
    if len(idle) == 0:
        return None
    p_free = p.copy()
    p_free[idle] = 0.0
    step = np.asarray(a_shared.T @ (p_free - p)).ravel()
    cheaper = step < -1e-12 * np.maximum(1.0, np.abs(priced_cost))
    cost_free = priced_cost + step
    forced = np.full(len(parts), np.inf)
    touched = [i for i, q in enumerate(parts) if cheaper[q.cols].any()]

    def probe(i: int) -> float | None:
        if time.monotonic() >= deadline:
            return None
        q = parts[i]
        local = np.flatnonzero(cheaper[q.cols])
        force = _forcing(q, local, cost_free[q.cols])
        if force is None:
            return None
        if len(force) == 0:    # every cheaper column fixed at zero: no plan uses one
            return np.inf
        form = with_cost(q, cost_free[q.cols]).form.copy()
        form.add_rows(form.free_family_name("uses_idle_rows"), [(0,)], np.zeros(len(force), dtype=np.int64), force,
                      np.ones(len(force)), lower=1.0)
        handle: list = []
        lp = solve_lp(form, handle=handle)
        if lp is not None:
            return float(lp.objective)
        return np.inf if _infeasible(handle) else None

    with ThreadPoolExecutor(max(1, min(workers, len(touched) or 1))) as pool:
        values = list(pool.map(probe, touched))
    if any(v is None for v in values):
        return None
    forced[touched] = values
    return p_free, forced


def _forcing(part: Part, local: np.ndarray, cost: np.ndarray) -> np.ndarray | None:
    """The part's columns whose sum is at least 1 in every plan using a column of `local` (part-local indices)
    that could be least; None when one of them is continuous and not an evaluator, or could be negative."""
    _, lb, ub, integer = part.form.col_arrays()
    if np.any(lb[local] < 0):
        return None
    out = [local[integer[local] & (ub[local] >= 1)]]
    rest = local[~integer[local]]
    if len(rest):
        ev, pipe = part.form.blocks.get("evaluators"), part.form.blocks.get("pipeline")
        if ev is None or pipe is None or np.any((rest < ev.start) | (rest >= ev.start + ev.size)):
            return None
        if np.any(cost[rest] <= 0):
            return None
        pipe_col = {k: pipe.start + j for j, k in enumerate(pipe.keys)}
        out.append(np.array([pipe_col[ev.keys[c - ev.start][:-1]] for c in rest], dtype=np.int64))
    return np.unique(np.concatenate(out))


def _infeasible(handle: list) -> bool:
    import highspy

    return bool(handle) and handle[0].getModelStatus() == highspy.HighsModelStatus.kInfeasible
