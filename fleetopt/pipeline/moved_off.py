"""Plans that move parts off the shared rows the priced path's joined plan breaks (pipeline/lagrange.py's step
after its first MILP round): each of the largest users of a broken row solved at its true cost with its share of
the shared rows as rows of its own. The plans join the master's pool (pipeline/master.py); with every part's
proportional share met, the joined plan meets every shared row by construction. Plans only: the prices' bounds
are untouched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from fleetopt.backends.result import SolveOptions
from fleetopt.formulation.split import Part, with_cost
from fleetopt.pipeline.master import PlanPool

LOG = logging.getLogger(__name__)

SHARE_PARTS = 40         # parts re-solved with shares of the rows the joined plan breaks: at most this many,
SHARE_HELD = 2.0         # the largest users of each such row until they hold this many times its excess


def moved_off(parts: list[Part], pool: PlanPool, x: np.ndarray, cost: np.ndarray, a_shared, lower: np.ndarray,
               upper: np.ndarray, allowance: np.ndarray, nodes: int, run, backend, options: SolveOptions,
               deadline: float) -> np.ndarray | None:
    """Plans that move the largest users of the rows the joined plan `x` breaks off those rows, for the master.
    Each such part is solved (true cost) with a share of every shared row it touches as rows of its own: on a
    broken row its use less its share of the excess (proportional to use among the chosen parts), or none of it;
    on every other row its activity plus an even split of the slack among the chosen parts that touch it. With
    every part's proportional plan found, the joined plan meets every shared row (the shares sum to the bounds):
    returned when it does. Source: resource-directive decomposition, Geoffrion 1970, "Primal resource-directive
    approaches for optimizing nonlinear decomposable systems", Oper. Res. 18(3). x100 at the best LP prices: the
    parts' plans (295.2M) overfill inventory[us-central-2,h100] by 1,826 GPUs, the master's mix of pooled plans
    that meets the rows cost 296.4-297.3M."""
    n_parts = len(parts)
    part_of = np.empty(len(x), dtype=np.int64)
    for i, q in enumerate(parts):
        part_of[q.cols] = i
    coo = a_shared.tocoo()
    acts = sp.csr_matrix((coo.data * x[coo.col], (coo.row, part_of[coo.col])), shape=(a_shared.shape[0], n_parts))
    touch = sp.csr_matrix((np.ones(len(coo.data)), (coo.row, part_of[coo.col])), shape=acts.shape)
    touch.sum_duplicates()
    touch.data[:] = 1.0       # a 0/1 pattern again
    activity = np.asarray(acts.sum(axis=1)).ravel()
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, lower)))
    side = np.where(activity - upper > tol, 1.0, np.where(lower - activity > tol, -1.0, 0.0))
    broken = np.flatnonzero(side)
    if not len(broken) or time.monotonic() >= deadline:
        return None
    excess = np.where(side > 0, activity - upper, lower - activity)
    use = np.maximum(acts[broken].toarray() * side[broken, None], 0.0)    # [broken row, part]
    chosen: dict[int, float] = {}
    for j in range(len(broken)):    # per broken row, its largest users until they hold SHARE_HELD x its excess
        order = np.argsort(-use[j], kind="stable")
        held = np.cumsum(use[j, order])
        k = min(int(np.searchsorted(held, SHARE_HELD * excess[broken[j]])) + 1, int((use[j] > 0).sum()))
        for i in order[:k]:
            chosen[int(i)] = chosen.get(int(i), 0.0) + use[j, i] / excess[broken[j]]
    todo = sorted(chosen, key=lambda i: -chosen[i])[:SHARE_PARTS]
    in_todo = np.zeros(n_parts, dtype=bool)
    in_todo[todo] = True
    held_by = use[:, in_todo].sum(axis=1)                     # per broken row, what the chosen parts use
    cut_share = np.minimum(excess[broken] / np.maximum(held_by, 1e-12), 1.0)
    n_touch = np.asarray(touch[:, in_todo].sum(axis=1)).ravel()
    # room each chosen part may take on a row's other side: a broken row, once cut, lies at its broken bound
    with np.errstate(invalid="ignore"):
        slack_up = np.where(side == 0, upper - activity, np.where(side < 0, upper - lower, 0.0))
        slack_down = np.where(side == 0, activity - lower, np.where(side > 0, upper - lower, 0.0))
    slack_up, slack_down = (v / np.maximum(n_touch, 1.0) for v in (slack_up, slack_down))
    where = np.full(len(activity), -1)
    where[broken] = np.arange(len(broken))
    variants, who, shares = [], [], []
    for whole_cut in (False, True):     # every part's proportional share first, then each off its rows
        for i in todo:
            rows = np.flatnonzero(touch[:, i].toarray().ravel())
            a_i = acts[rows, i].toarray().ravel()
            hi, lo = a_i + slack_up[rows], a_i - slack_down[rows]
            b = where[rows] >= 0
            u_i = use[where[rows[b]], i]
            cut = u_i if whole_cut else u_i * cut_share[where[rows[b]]]
            s_b = side[rows[b]]
            hi[b] = np.where(s_b > 0, a_i[b] - cut, a_i[b] + cut + slack_up[rows[b]])
            lo[b] = np.where(s_b < 0, a_i[b] + cut, a_i[b] - cut - slack_down[rows[b]])
            if whole_cut and np.allclose(cut, u_i * cut_share[where[rows[b]]]):
                continue    # the proportional share was the whole use already
            variants.append(with_share(parts[i], pool.block(i)[rows], lo, hi, cost))
            who.append(i)
            shares.append(not whole_cut)
    opts = [replace(options, start=None, mip_rel_gap=0.0, mip_abs_gap=max(float(allowance[i]), 1e-6),
                    node_limit=nodes) for i in who]
    out = run(backend, variants, opts, deadline, in_order=True)
    joined, complete = x.copy(), True
    for i, proportional, r in zip(who, shares, out):
        if r.x is None:
            complete = complete and not proportional
            continue
        pool.add(i, r.x)
        if proportional:
            joined[parts[i].cols] = r.x
    act = a_shared @ joined
    meets = complete and not np.any((act - upper > tol) | (lower - act > tol))
    LOG.debug("moved off %d broken rows: %d parts, %d of %d plans, joined %s", len(broken), len(todo),
              sum(r.x is not None for r in out), len(out), f"{float(cost @ joined):.6g}" if meets else "none")
    return joined if meets else None


def with_share(part: Part, block, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray) -> Part:
    """The part (with its whole-replica rows, if any) at its true cost with `block`'s rows (shared rows over its
    columns) bounded to its share [lower, upper] as rows of its own."""
    out = part.form.copy()
    b = block.tocoo()
    out.add_rows(out.free_family_name("shared_share"), [(k,) for k in range(block.shape[0])], b.row, b.col, b.data,
                 lower=lower, upper=upper)
    return with_cost(Part(out, part.cols, part.rows), cost[part.cols])
