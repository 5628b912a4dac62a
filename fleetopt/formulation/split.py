"""Independent parts of a formulation.

Jobs and services are joined only through the shared families (stock, power, storage, links, carbon). Left out,
the model falls apart into one small MILP per job and per service; `components` labels the columns of each part
and `split` writes each part as a Formulation of its own, with the block and family names and keys of the whole,
so any backend solves it. Which shared rows to keep is the caller's choice (fleetopt/pipeline/decompose.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fleetopt.formulation.model import Formulation


@dataclass
class Part:
    form: Formulation
    cols: np.ndarray   # global column of each of its columns, ascending
    rows: np.ndarray   # global row of each of its rows, ascending


def shared_rows(form: Formulation) -> np.ndarray:
    """Per row: does it belong to a shared family?"""
    out = np.zeros(form.n_rows, dtype=bool)
    for f in form.families.values():
        out[f.start:f.start + f.size] = f.shared
    return out


def relaxed(form: Formulation) -> Formulation:
    """The same model with every integer column continuous (its LP relaxation)."""
    out = form.copy()
    for name, b in form.blocks.items():
        if b.integer:
            out.blocks[name] = type(b)(b.name, b.keys, b.start, b.lb, b.ub, b.cost, False)
    return out


def components(form: Formulation, kept_rows: np.ndarray) -> np.ndarray:
    """Label each column with its part: columns are joined when a kept row has both. Labels count from 0 in the
    order of each part's first column."""
    a = form.matrix().tocoo()
    on = kept_rows[a.row]
    n = form.n_cols
    # the bipartite graph of columns and kept rows (a column-by-column product would be dense under a fleet row)
    labels = _connected(n + form.n_rows, a.col[on], n + a.row[on])
    _, first, inverse = np.unique(labels[:n], return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse]


def _connected(n_nodes: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per node, the least node of its connected component (edges u-v): each round hooks every tree's root
    under the least root an edge reaches, then points every node at its root, until no edge joins two trees;
    every tree with an edge merges each round, so rounds are logarithmic. (scipy.sparse.csgraph does the same
    but costs ~0.15 s to import, scipy.linalg with it, on every solve.)
    Source: Shiloach and Vishkin 1982, An O(log n) parallel connectivity algorithm (J. Algorithms 3(1))."""
    parent = np.arange(n_nodes)
    while True:
        pu, pv = parent[u], parent[v]
        apart = pu != pv
        if not apart.any():
            return parent
        np.minimum.at(parent, np.maximum(pu[apart], pv[apart]), np.minimum(pu[apart], pv[apart]))
        while True:   # a parent is smaller than its child, so pointer jumping ends at the roots
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def split(form: Formulation, col_label: np.ndarray, kept_rows: np.ndarray) -> list[Part]:
    """One Formulation per label. Kept rows go with their columns (a kept row without any goes with part 0);
    the rows not kept are left out."""
    k = int(col_label.max()) + 1 if len(col_label) else 0
    a = form.matrix().tocoo()
    row_label = np.full(form.n_rows, -1, dtype=np.int64)
    row_label[kept_rows] = 0
    row_label[a.row[kept_rows[a.row]]] = col_label[a.col[kept_rows[a.row]]]
    col_groups = _groups(col_label, k)
    row_groups = _groups(row_label, k)
    nz = np.flatnonzero(row_label[a.row] >= 0)
    nz = nz[np.argsort(row_label[a.row[nz]], kind="stable")]
    nz_ptr = np.searchsorted(row_label[a.row[nz]], np.arange(k + 1))
    local_col = _local_index(col_label, col_groups)
    local_row = _local_index(row_label, row_groups)
    return [_part(form, col_groups[i], row_groups[i], nz[nz_ptr[i]:nz_ptr[i + 1]], a, local_col, local_row)
            for i in range(k)]


def _groups(label: np.ndarray, k: int) -> list[np.ndarray]:
    """Indices with each label 0..k-1, ascending (labels < 0 are left out)."""
    order = np.argsort(label, kind="stable")
    ptr = np.searchsorted(label[order], np.arange(k + 1))
    return [order[ptr[i]:ptr[i + 1]] for i in range(k)]


def _local_index(label: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    local = np.full(len(label), -1, dtype=np.int64)
    for g in groups:
        local[g] = np.arange(len(g))
    return local


def _part(form: Formulation, cols: np.ndarray, rows: np.ndarray, nz: np.ndarray, a, local_col, local_row) -> Part:
    sub = Formulation(objective_name=form.objective_name)
    for b in form.blocks.values():
        lo, hi = np.searchsorted(cols, [b.start, b.start + b.size])
        if hi > lo:
            i = cols[lo:hi] - b.start
            sub.add_vars(b.name, [b.keys[j] for j in i], lb=b.lb[i], ub=b.ub[i], cost=b.cost[i], integer=b.integer)
    nz_rows = a.row[nz]
    for f in form.families.values():
        lo, hi = np.searchsorted(rows, [f.start, f.start + f.size])
        if hi <= lo:
            continue
        i = rows[lo:hi] - f.start
        mine = nz[(nz_rows >= f.start) & (nz_rows < f.start + f.size)]
        sub.add_rows(f.name, [f.keys[j] for j in i], local_row[a.row[mine]] - lo, local_col[a.col[mine]],
                     a.data[mine], lower=f.lower[i], upper=f.upper[i], units=f.units, meaning=f.meaning,
                     shared=f.shared)
    return Part(sub, cols, rows)


def with_cost(part: Part, cost: np.ndarray) -> Part:
    """The part with its columns' costs replaced (blocks copied; rows shared with the original)."""
    form = part.form
    out = form.copy()
    for name, b in form.blocks.items():
        lo = b.start
        out.blocks[name] = replace(b, cost=np.asarray(cost[lo:lo + b.size], dtype=float))
    return Part(out, part.cols, part.rows)


def with_col_bounds(form: Formulation, lower: np.ndarray, upper: np.ndarray) -> Formulation:
    """A copy of `form` with every column's bounds replaced (same rows, columns and names)."""
    out = form.copy()
    for name, b in form.blocks.items():
        out.blocks[name] = replace(b, lb=np.asarray(lower[b.start:b.start + b.size], dtype=float),
                                   ub=np.asarray(upper[b.start:b.start + b.size], dtype=float))
    return out
