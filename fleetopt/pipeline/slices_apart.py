"""A part over time slices taken one slice at a time: exact per-slice bounds and a plan with the horizon fixed.

Over S slices a part's columns are of two kinds: those of one slice (replicas, flows, training runs: their keys
end with the slice's label) and those held through the horizon (monitored, pipelines, evaluators, a job's
layout). The LP of a monitored service over slices already takes its monitoring decisions whole (global-fleet-
hourly's chat: every monitored and pipeline column of its LP is 0 or 1); what it lacks is the whole replicas
of each slice, and branch and bound proves the 24 slices' rounding losses only as the product of 24 trees
(chat: 1.6% open at 15 s, 0.12% at 150 s). Taken one slice at a time, each loss is a small MIP.

1. Bound rows, slice_bound[part, s]: the MIP on slice s's columns alone, with the rows that touch only them
   (demand and replica capacity: every route free, monitoring left out), has a proven bound B_s. In any plan of
   the part, s's columns take values feasible for that MIP, so
       sum_{j in s} c_j x_j >= B_s
   is valid: no plan is cut off, the optimum is unchanged, and the LP bound rises by the slices' rounding losses
   (chat: 578,707 -> 586,877, the plan 587,392). It is the per-(service, slice) knapsack of
   formulation/replica_bound.py solved exactly, where that one is a group relaxation.
2. A plan: the horizon columns that slice rows touch (monitored) fixed at a plan's values, what is left falls
   apart into its slices and the rest of the horizon (pipelines and evaluators, with the rows among them); no
   row may join two slices, else nothing is done. Each piece is a small MIP started from the plan's values.
   From a plan, the join holds every row and costs no more (chat: 592,380 after 200 nodes -> 587,392 in 1.5 CPU
   s); from an LP solution rounded up (a part the clock left without a plan) it is checked row by row.
Source: Geoffrion 1974, "Lagrangean relaxation for integer programming" (a relaxation's optimum as a valid bound;
dropping the rows that join subproblems); the fix-and-decompose step is a diving heuristic on the linking
columns (Berthold 2006, "Primal heuristics for mixed integer programs", ch. 3).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from fleetopt.backends.result import SolveOptions, SolveResult
from fleetopt.formulation.model import Formulation, VarBlock
from fleetopt.formulation.split import Part, split

HORIZON = -1   # a column (or row) of no one slice
CROSSING = -2  # a row whose columns lie in two slices or more

RunMany = Callable[[list[Part], list[SolveOptions]], list[SolveResult]]


def column_slices(form: Formulation, labels: list[str]) -> np.ndarray:
    """[n_cols] each column's slice index (its key's last element), HORIZON where it has none."""
    index = {lab: i for i, lab in enumerate(labels)}
    return np.concatenate([np.array([index.get(k[-1], HORIZON) if k else HORIZON for k in b.keys], dtype=np.int64)
                           for b in form.blocks.values()]) if form.blocks else np.zeros(0, dtype=np.int64)


def row_slices(form: Formulation, col_slice: np.ndarray) -> np.ndarray:
    """[n_rows] the one slice whose columns a row touches (with horizon columns or not), HORIZON where it touches
    horizon columns only, CROSSING where it touches two slices."""
    a = form.matrix().tocsr()
    s = col_slice[a.indices]
    row = np.repeat(np.arange(form.n_rows), np.diff(a.indptr))
    top, low = np.full(form.n_rows, HORIZON), np.full(form.n_rows, np.iinfo(np.int64).max)
    np.maximum.at(top, row, s)
    np.minimum.at(low, row, np.where(s >= 0, s, np.iinfo(np.int64).max))
    return np.where(top < 0, HORIZON, np.where(low == top, top, CROSSING))


def whole_in_many_slices(form: Formulation, labels: list[str]) -> bool:
    """Does the part decide whole numbers (replicas) in two slices or more? Only then do rounding losses of many
    slices add up in one tree. (A service without monitoring is one part per slice already: nothing joins its
    slices; global-fleet-hourly's parts that qualify are the monitored chat and assistant-eu.)"""
    _, _, _, integer = form.col_arrays()
    return len(np.unique(column_slices(form, labels)[integer & (column_slices(form, labels) >= 0)])) >= 2


def restricted(form: Formulation, cols: np.ndarray, rows: np.ndarray, lb: np.ndarray | None = None,
               ub: np.ndarray | None = None, cost: np.ndarray | None = None) -> Part:
    """The part of `form` on columns `cols` and rows `rows` (each row's columns among `cols`), with column
    bounds and costs (whole-model arrays) where given."""
    label = np.full(form.n_cols, -1, dtype=np.int64)
    label[cols] = 0
    kept = np.zeros(form.n_rows, dtype=bool)
    kept[rows] = True
    part = split(form, label, kept)[0]
    if lb is None and ub is None and cost is None:
        return part
    sub = part.form
    blocks, at = {}, 0
    for name, b in sub.blocks.items():
        mine = part.cols[at:at + b.size]
        blocks[name] = VarBlock(b.name, b.keys, b.start, b.lb if lb is None else lb[mine],
                                b.ub if ub is None else ub[mine], b.cost if cost is None else cost[mine], b.integer)
        at += b.size
    out = Formulation(blocks, dict(sub.families), sub.objective_name, sub.n_cols, sub.n_rows)
    return Part(out, part.cols, part.rows)


def with_slice_bounds(form: Formulation, labels: list[str], run: RunMany, options: SolveOptions,
                      x: np.ndarray | None = None) -> Formulation:
    """`form` with a slice_bound row per slice whose own MIP has a finite bound (module docstring, 1); each MIP
    starts from plan `x`'s values of its slice where given (a plan of the part is one of each slice's MIP)."""
    col_slice = column_slices(form, labels)
    row_slice = row_slices(form, col_slice)
    a = form.matrix().tocsr()
    alone = np.ones(form.n_rows, dtype=bool)    # rows touching no horizon column
    alone[np.repeat(np.arange(form.n_rows), np.diff(a.indptr))[col_slice[a.indices] < 0]] = False
    subs, slots = [], []
    for s in range(len(labels)):
        cols = np.flatnonzero(col_slice == s)
        rows = np.flatnonzero((row_slice == s) & alone)
        if len(cols) and len(rows):
            subs.append(restricted(form, cols, rows))
            slots.append(s)
    results = run(subs, [options if x is None else replace(options, start=x[sub.cols]) for sub in subs])
    cost, _, _, _ = form.col_arrays()
    keys, rr, cc, vv, lower = [], [], [], [], []
    name = _part_name(form, col_slice)
    for s, sub, r in zip(slots, subs, results):
        if r.bound is None or not np.isfinite(r.bound):
            continue
        on = sub.cols[cost[sub.cols] != 0.0]
        rr.append(np.full(len(on), len(keys)))
        cc.append(on)
        vv.append(cost[on])
        keys.append((name, labels[s]))
        lower.append(float(r.bound))
    out = form.copy()
    if keys:
        out.add_rows("slice_bound", keys, np.concatenate(rr), np.concatenate(cc), np.concatenate(vv), lower=lower,
                     units=form.objective_name, meaning="what one slice's columns cost is at least what its own "
                     "MIP (every route free, whole replicas) proves")
    return out


def plan_with_horizon_fixed(form: Formulation, labels: list[str], x: np.ndarray, run: RunMany,
                            options: SolveOptions) -> np.ndarray | None:
    """A plan of `form` from `x` (a plan, or an LP solution with its whole numbers rounded up): the horizon columns
    that slice rows touch (monitored) fixed at x's values, the other horizon columns (pipelines, evaluators) solved
    again with the rows among horizon columns, and each slice solved again alone (module docstring, 2). None
    where a row joins two slices (a training job's coverage over its window) or the result breaks a row."""
    col_slice = column_slices(form, labels)
    row_slice = row_slices(form, col_slice)
    if (row_slice == CROSSING).any():
        return None
    cost, lb, ub, integer = form.col_arrays()
    a = form.matrix().tocsr()
    horizon = col_slice < 0
    linking = np.zeros(form.n_cols, dtype=bool)
    linking[a.indices[np.repeat(row_slice >= 0, np.diff(a.indptr))]] = True
    linking &= horizon
    fixed = np.clip(np.where(integer, np.round(x), x), lb, ub)
    lb, ub = lb.copy(), ub.copy()
    lb[linking] = ub[linking] = fixed[linking]
    subs, opts = [], []
    for s in [HORIZON, *range(len(labels))]:
        cols = np.flatnonzero(horizon if s == HORIZON else (col_slice == s) | linking)
        rows = np.flatnonzero(row_slice == s)
        if s != HORIZON and not (col_slice[cols] == s).any():
            continue
        sub = restricted(form, cols, rows, lb=lb, ub=ub)
        subs.append(sub)
        opts.append(replace(options, start=fixed[sub.cols]))
    out = fixed.copy()
    for sub, r in zip(subs, run(subs, opts)):
        before = out[sub.cols]
        if r.x is not None and (not holds(sub.form, before)
                                or float(cost[sub.cols] @ r.x) <= float(cost[sub.cols] @ before)):
            out[sub.cols] = r.x
    out[linking] = fixed[linking]
    return out if holds(form, out) else None


def holds(form: Formulation, x: np.ndarray, tol: float = 1e-6) -> bool:
    """Does `x` meet every row and column bound of `form` (rows within `tol` relative)?"""
    _, lb, ub, _ = form.col_arrays()
    lower, upper = form.row_bounds()
    act = form.matrix() @ x
    scale = np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, np.where(np.isfinite(lower), lower, 0.0))))
    return bool((act <= upper + tol * scale).all() and (act >= lower - tol * scale).all()
                and (x >= lb - 1e-9).all() and (x <= ub + 1e-9).all())


def _part_name(form: Formulation, col_slice: np.ndarray) -> str:
    """The first slice column's first key element (the service or job the part is about)."""
    for b in form.blocks.values():
        for k, s in zip(b.keys, col_slice[b.start:b.start + b.size]):
            if s >= 0:
                return str(k[0])
    return "part"
