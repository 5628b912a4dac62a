"""Serving options that another option of the same model does at least as well: fixed at zero replicas.

An option o is dominated by o' when a plan can move all of o's replicas and flows to o' and stay feasible at no
more cost: o' costs no more per replica, reaches every population o reaches at no fewer requests/s per replica,
and o's replica column and each of its flow columns touch the model's other rows (demand, monitoring, stock,
power, ...) exactly as o''s do (same rows, same coefficients, same flow cost), with no upper bound on o''s columns.
Then moving n_o onto n_o' and f_ou onto f_o'u keeps every other row's activity, and o''s capacity row holds
because sum_u f_ou / rps_o'u <= sum_u f_ou / rps_ou <= n_o. Ties (equal in everything) keep the lowest column,
so every removed option has a kept option at least as good, and the model's optimum is unchanged: only options
no optimum needs are fixed (x10's services: 56-123 of 90-174 options per service).
Source: the exchange argument above (dominated columns, e.g. Gamrath et al. 2015, "Progress in presolving for
mixed integer programming", Math. Prog. Comp. 7, section 4: dominated columns).
Its sibling formulation/twins.py fixes an option that k replicas of a twin replace (tp8 by two tp4) on the whole
model, where other rows differ; this one runs on each part, where the shared rows are left out and 1-for-1
swaps across regions qualify.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from fleetopt.formulation.model import Formulation, VarBlock
from fleetopt.formulation.split import Part

REL_TOL = 1e-12   # relative slack under which costs and rates count as equal


def dominated_options(form: Formulation) -> np.ndarray:
    """Indices (within the `replicas` block) of options dominated by another (module docstring); empty when the
    model's replica and flow columns are not of the capacity-row shape the argument needs."""
    n, f = form.blocks.get("replicas"), form.blocks.get("flow")
    cap = form.families.get("replica_capacity")
    if n is None or f is None or cap is None or n.size == 0:
        return np.zeros(0, dtype=np.int64)
    rate = capacity_rates(form, n, f, cap)
    if rate is None:
        return np.zeros(0, dtype=np.int64)
    route_option, a = rate
    cost, lb, ub, _ = form.col_arrays()
    a_csc = form.matrix().tocsc()
    not_cap = np.ones(form.n_rows, dtype=bool)
    not_cap[cap.start:cap.start + cap.size] = False
    option_sig = [_signature(a_csc, c, not_cap) for c in n.cols]
    flow_sig = [_signature(a_csc, c, not_cap) + (cost[c], lb[c], ub[c]) for c in f.cols]
    # routes as a matrix: option x (flow signature) -> capacity coefficient 1/rps (inf: no such route)
    sig_id = {s: i for i, s in enumerate(dict.fromkeys(flow_sig))}
    on = np.flatnonzero(route_option >= 0)
    sig_of = np.array([sig_id[flow_sig[j]] for j in on], dtype=np.int64)
    if len(set(zip(route_option[on].tolist(), sig_of.tolist()))) != len(on):
        return np.zeros(0, dtype=np.int64)   # two flows of one option alike: not the shape the argument needs
    per_rps = np.zeros((n.size, len(sig_id)))
    per_rps[route_option[on], sig_of] = a[on]
    has = np.zeros((n.size, len(sig_id)), dtype=bool)
    has[route_option[on], sig_of] = True
    coef = np.where(has, per_rps, np.inf)
    rep_cost, rep_lb = cost[n.cols], lb[n.cols]
    open_to = _takes_moved(form, n, f, route_option, a, option_sig, ub)
    out = []
    groups: dict[tuple, list[int]] = {}
    for o, s in enumerate(option_sig):
        groups.setdefault(s, []).append(o)
    for members in groups.values():
        if len(members) < 2:
            continue
        m = np.array(members)
        c, k = rep_cost[m], coef[m]
        for i, o in enumerate(m):
            if rep_lb[o] > 0:
                continue
            mine = has[o]
            # o2 at least as good: cost, and every route of o with no larger 1/rps
            no_dearer = c <= c[i] + REL_TOL * max(abs(c[i]), 1.0)
            covers = (k[:, mine] <= k[i, mine] * (1 + REL_TOL)).all(axis=1)
            better = no_dearer & covers & open_to[m]
            strictly = (c < c[i] - REL_TOL * max(abs(c[i]), 1.0)) \
                | (k[:, mine] < k[i, mine] * (1 - REL_TOL)).any(axis=1) | (m < o)
            better &= strictly
            better[i] = False
            if better.any():
                out.append(o)
    return np.array(sorted(out), dtype=np.int64)


def without_dominated(form: Formulation) -> tuple[Formulation, int]:
    """A copy of `form` with the dominated options' replica and flow columns fixed at zero (same columns and rows,
    so its plans are the model's plans and its optimum the model's), and how many options were fixed."""
    gone = dominated_options(form)
    return (fixed_at_zero(form, gone) if len(gone) else form), len(gone)


def part_without_dominated(part: Part) -> Part:
    """The part with its dominated serving options fixed at zero: same columns and rows and the same optimum
    (at whatever costs the part carries, prices included), so its plans and bounds are the part's."""
    form, fixed = without_dominated(part.form)
    return part if not fixed else Part(form, part.cols, part.rows)


def fixed_at_zero(form: Formulation, options: np.ndarray) -> Formulation:
    """A copy of `form` with the given options (indices in `replicas`) and the flows of their replica_capacity
    rows bounded to 0: same rows, columns and names, so a solution reads back on `form`."""
    n, f, cap = form.blocks["replicas"], form.blocks["flow"], form.families["replica_capacity"]
    rep_ub = n.ub.copy()
    rep_ub[options] = 0.0
    on_rep = (cap.cols >= n.start) & (cap.cols < n.start + n.size)
    rows = cap.rows[on_rep & np.isin(cap.cols - n.start, options)]
    on_flow = (cap.cols >= f.start) & (cap.cols < f.start + f.size) & np.isin(cap.rows, rows)
    flow_ub = f.ub.copy()
    flow_ub[cap.cols[on_flow] - f.start] = 0.0
    out = form.copy()
    out.blocks["replicas"] = replace(n, ub=rep_ub)
    out.blocks["flow"] = replace(f, ub=flow_ub)
    return out


def _takes_moved(form: Formulation, n: VarBlock, f: VarBlock, route_option: np.ndarray, a: np.ndarray,
                 option_sig: list[tuple], ub: np.ndarray) -> np.ndarray:
    """Per option: can it take another option's replicas and flows whatever they are? Its flows' upper bounds must
    not cut: each flow lies in an equality `demand` row of coefficient 1 whose right-hand side is within its upper
    bound. Its replica bound must not cut: the replica column has no other row that fewer replicas could break
    (none, or only rows it enters with a sign that fewer replicas keep) and ub >= the replicas its routes could
    ever need (ceil of sum_u D_u / rps_u): a plan may cut an option's replicas to the ceiling of its load."""
    dem = form.families.get("demand")
    if dem is None:
        return np.zeros(n.size, dtype=bool)
    row_lo, row_hi = form.row_bounds()
    d_of_flow = np.full(f.size, np.nan)
    on_flow = (dem.cols >= f.start) & (dem.cols < f.start + f.size) & np.isclose(dem.vals, 1.0)
    d_of_flow[dem.cols[on_flow] - f.start] = np.where(dem.lower == dem.upper, dem.upper, np.nan)[dem.rows[on_flow]]
    routed = route_option >= 0
    flow_ok = np.isfinite(d_of_flow) & (ub[f.cols] >= d_of_flow * (1 - REL_TOL))
    bad = np.zeros(n.size, dtype=bool)
    np.logical_or.at(bad, route_option[routed], ~flow_ok[routed])
    need = np.zeros(n.size)
    np.add.at(need, route_option[routed], np.nan_to_num(d_of_flow[routed], nan=np.inf) * a[routed])
    need = np.ceil(need * (1 - 1e-9))
    fewer_ok = np.array([all((v > 0 and row_lo[r] == -np.inf) or (v < 0 and row_hi[r] == np.inf)
                             for r, v in zip(*sig)) for sig in option_sig])
    return ~bad & fewer_ok & (ub[n.cols] >= need)


def capacity_rates(form: Formulation, n: VarBlock, f: VarBlock, cap) -> tuple[np.ndarray, np.ndarray] | None:
    """Per flow column: the option (index in `replicas`) whose capacity row it is in, or -1, and its coefficient
    there (1/rps). None unless every capacity row has -1 on one replica column and positive flow coefficients,
    and every replica column and flow column lies in at most one capacity row."""
    is_rep = (cap.cols >= n.start) & (cap.cols < n.start + n.size)
    is_flow = (cap.cols >= f.start) & (cap.cols < f.start + f.size)
    if not (is_rep | is_flow).all() or is_rep.sum() != cap.size or not np.allclose(cap.vals[is_rep], -1.0) \
            or (cap.vals[is_flow] <= 0).any():
        return None
    option_of_row = np.full(cap.size, -1)
    option_of_row[cap.rows[is_rep]] = cap.cols[is_rep] - n.start
    flows = cap.cols[is_flow] - f.start
    if (option_of_row < 0).any() or len(np.unique(option_of_row)) != cap.size or len(np.unique(flows)) != len(flows):
        return None
    route_option = np.full(f.size, -1)
    coef = np.zeros(f.size)
    route_option[flows] = option_of_row[cap.rows[is_flow]]
    coef[flows] = cap.vals[is_flow]
    return route_option, coef


def _signature(a_csc: sp.csc_matrix, col: int, keep_rows: np.ndarray) -> tuple:
    """The column's nonzeros outside the capacity rows, as a hashable (rows, values)."""
    lo, hi = a_csc.indptr[col], a_csc.indptr[col + 1]
    rows, vals = a_csc.indices[lo:hi], a_csc.data[lo:hi]
    on = keep_rows[rows]
    order = np.argsort(rows[on])
    return tuple(rows[on][order].tolist()), tuple(vals[on][order].tolist())
