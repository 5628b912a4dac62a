"""Rounded rows of the shared scarce rows: whole replicas and whole training runs fill a region's stock and power.

A region's GPU stock row (inventory[r,a]) and its power row (power_cap[r]) are knapsack rows over integer columns
(replicas, training choices) with a few continuous ones (evaluators). The LP fills them exactly with fractions of
replicas; whole ones leave a remainder. The mixed-integer rounding (MIR) of such a row states it:
for sum_j a_j x_j + sum_k g_k y_k <= b with x_j integer in [0, u_j] and y_k >= 0 continuous, divided by d > 0,
with each x_j at its upper bound complemented where the LP has it above u_j / 2 (x_j = u_j - x'_j), f0 =
frac(b'/d) and F(q) = floor(q) + max(0, frac(q) - f0) / (1 - f0):
    sum_j F(a'_j / d) x'_j + sum_{g_k < 0} g_k y_k / (d (1 - f0)) <= floor(b' / d)
(the continuous columns of positive coefficient dropped first: the row without them still holds). Every plan
meets it, so the model's plans and optimum stay the same; the LP rises where its fractions fill the row.
Which rows are added is decided by separation: the LP is solved, each row gets the divisor whose row the LP
breaks most (divisors: the coefficients of its integer columns the LP uses, and their halves, quarters and
eighths), and the LP is solved again, for a few rounds.
Source: Marchand and Wolsey 2001, "Aggregation and mixed integer rounding to solve MIPs", Oper. Res. 49(3);
Nemhauser and Wolsey 1988, Integer and Combinatorial Optimization, II.1.7 (the MIR inequality).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from fleetopt.formulation.model import Formulation

ROUNDS = 5              # LP solves of the separation
MIN_VIOLATION = 1e-3    # in units of the divisor: what the LP must break a row by for it to be added
MOST_DIVISORS = 64      # divisors tried per row and round (the largest coefficients' first)
SHARES = (1, 2, 4, 8)   # each coefficient the LP uses over these: the divisors tried
FLAT = 1e-6             # f0 within this of 0 or 1: the row's right-hand side is whole in units of d (no rounding)


def mir_row(a: np.ndarray, u: np.ndarray, g: np.ndarray, b: float, d: float,
            flip: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The MIR row of sum a x + sum g y <= b divided by d, the integer columns `flip` complemented at their
    upper bounds u: (coefficients on x, on y, right-hand side), in units of d; None when b' / d is whole (the
    row is the scaled row itself). Float safety: b' grows by a hair (a plan within the solver's tolerance meets
    the row) and F is continuous in each coefficient, so rounding error moves the row by no more than that."""
    a_flip = np.where(flip, -a, a)
    b_flip = b - float(np.dot(a[flip], u[flip]))
    beta = b_flip / d + 1e-9 * max(1.0, abs(b_flip / d))
    f0 = beta - np.floor(beta)
    if f0 < FLAT or f0 > 1 - FLAT:
        return None
    q = a_flip / d
    frac = q - np.floor(q)
    f = np.floor(q) + np.maximum(frac - f0, 0.0) / (1 - f0)
    rhs = float(np.floor(beta)) - float(np.dot(f[flip], u[flip]))
    return np.where(flip, -f, f), np.where(g < 0, g / (d * (1 - f0)), 0.0), rhs


def divisors(a: np.ndarray, z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The divisors tried on a row: the coefficients of the integer columns the LP uses strictly inside their
    bounds (else of all it uses), and those over SHARES; the largest first, at most MOST_DIVISORS."""
    inside = (z > 1e-6) & (z < u - 1e-6) & (a != 0)
    base = np.abs(a[inside if inside.any() else (z > 1e-6) & (a != 0)])
    d = np.unique((base[:, None] / np.array(SHARES)[None, :]).ravel())
    return d[::-1][:MOST_DIVISORS]


def separate(form: Formulation, rows: np.ndarray, z: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Per row of `rows` (<= rows: no finite lower bound), the MIR row the LP point z breaks most, in units of
    its divisor, when by more than MIN_VIOLATION: a list of (columns, coefficients, right-hand side)."""
    cost, lb, ub, integer = form.col_arrays()
    a_all = form.matrix().tocsr()
    lower, upper = form.row_bounds()
    out = []
    for i in rows:
        if np.isfinite(lower[i]) or not np.isfinite(upper[i]):
            continue
        cols, vals = a_all.indices[a_all.indptr[i]:a_all.indptr[i + 1]], a_all.data[a_all.indptr[i]:a_all.indptr[i + 1]]
        is_int = integer[cols]
        if not is_int.any() or np.any(lb[cols][is_int] < 0) or np.any(lb[cols][~is_int] < 0):
            continue
        a, u, zi = vals[is_int], ub[cols][is_int], z[cols][is_int]
        g, zc = vals[~is_int], z[cols][~is_int]
        flip = np.isfinite(u) & (zi > u / 2)
        best, best_v = None, MIN_VIOLATION
        for d in divisors(a, zi, u):
            row = mir_row(a, u, g, float(upper[i]), float(d), flip)
            if row is None:
                continue
            f, h, rhs = row
            violation = float(f @ zi + h @ zc) - rhs
            if violation > best_v:
                best, best_v = (np.concatenate([cols[is_int], cols[~is_int]]), np.concatenate([f, h]), rhs), violation
        if best is not None:
            keep = best[1] != 0
            out.append((best[0][keep], best[1][keep], best[2]))
    return out


def with_stock_rows(form: Formulation, rows: np.ndarray, lp: Callable[[Formulation], np.ndarray | None],
                    rounds: int = ROUNDS) -> tuple[Formulation, int]:
    """The model with the MIR rows of its rows `rows` (indices; the shared scarce <= rows) the LP breaks, found
    over `rounds` LP solves by `lp` (returns the LP point, None without one), one family per round
    (`stock_rounding`, `stock_rounding1`, ...; rows not shared: they join no more parts than the rows they
    round); and how many were added."""
    out, added = form, 0
    for _ in range(rounds):
        z = lp(out)
        if z is None:
            break
        found = separate(out, rows, z)
        if not found:
            break
        if out is form:
            out = form.copy()
        r = np.concatenate([np.full(len(c), k) for k, (c, _, _) in enumerate(found)])
        out.add_rows(out.free_family_name("stock_rounding"), [(added + k,) for k in range(len(found))], r,
                     np.concatenate([c for c, _, _ in found]), np.concatenate([v for _, v, _ in found]),
                     upper=np.array([rhs for _, _, rhs in found]))
        added += len(found)
    return out, added


def rows_matrix(form: Formulation, family: str) -> sp.csr_matrix:
    """The rows of one family as a matrix over the model's columns (for checks)."""
    f = form.families[family]
    return sp.csr_matrix((f.vals, (f.rows, f.cols)), shape=(f.size, form.n_cols))
